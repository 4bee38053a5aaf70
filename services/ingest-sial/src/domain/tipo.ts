/** The SIAL list kinds and the alumno states they lead to. */

/** A SIAL list, as it appears in the path (`/{tipo}/listas/`). */
export type Tipo = 'preinscriptos' | 'aspirantes' | 'ingresantes';

/** Every tipo, in the order students move through them. */
export const TIPOS: readonly Tipo[] = ['preinscriptos', 'aspirantes', 'ingresantes'];

/** The state of an alumno. `alumno` is never produced by ingestion, only by other processes. */
export type Estado = 'preinscripto' | 'aspirante' | 'ingresante' | 'alumno';

/** Estados in their only allowed direction of travel. */
export const ESTADOS: readonly Estado[] = ['preinscripto', 'aspirante', 'ingresante', 'alumno'];

const ESTADO_RANK: Record<Estado, number> = { preinscripto: 1, aspirante: 2, ingresante: 3, alumno: 4 };

/** The estado a record of each tipo list gives. */
export const ESTADO_FOR_TIPO: Readonly<Record<Tipo, Estado>> = {
  preinscriptos: 'preinscripto',
  aspirantes: 'aspirante',
  ingresantes: 'ingresante',
};

/** Whether a string is a tipo (case-sensitive, as SIAL). */
export function isTipo(value: unknown): value is Tipo {
  return typeof value === 'string' && (TIPOS as readonly string[]).includes(value);
}

/** Whether a string is an estado. */
export function isEstado(value: unknown): value is Estado {
  return typeof value === 'string' && (ESTADOS as readonly string[]).includes(value);
}

/** Negative when `a` comes before `b` (preinscripto < aspirante < ingresante < alumno), 0 when equal. */
export function compareEstado(a: Estado, b: Estado): number {
  return ESTADO_RANK[a] - ESTADO_RANK[b];
}

/** The later of two estados: an estado never moves backwards. */
export function forwardEstado(current: Estado, incoming: Estado): Estado {
  return compareEstado(incoming, current) > 0 ? incoming : current;
}
