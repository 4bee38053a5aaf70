/**
 * The merge rule between a stored alumno and what SIAL says now. It is what makes re-ingesting safe:
 * - a value SIAL omitted or sent empty never blanks a stored one (so a failed personal-data fetch keeps names and
 *   e-mail, unlike the original);
 * - estado only moves forward (preinscripto < aspirante < ingresante < alumno);
 * - carreras is replaced whole when it differs (deep compare, key order ignored).
 */
import type { AlumnoIngestFields, IncomingAlumno } from './alumno-mapping.js';
import { jsonEqual } from './json.js';
import { ESTADO_FOR_TIPO, forwardEstado, type Tipo } from './tipo.js';

/**
 * Fields the merge may change, in a stable order: the ingestion-owned columns (never e-mail institucional, the
 * account flags or estado, which has its own forward-only rule). The repository's upsert writes exactly these.
 */
export const MERGED_FIELDS = [
  'nombre',
  'apellido',
  'email_personal',
  'fecha_nacimiento',
  'cohorte',
  'localidad',
  'telefono',
  'fecha_ingreso',
  'estado_ingreso',
  'modalidad',
  'carreras',
] as const satisfies readonly (keyof AlumnoIngestFields & keyof IncomingAlumno)[];

/** One changed field. */
export interface FieldChange {
  readonly field: keyof AlumnoIngestFields;
  readonly before: unknown;
  readonly after: unknown;
}

/** What to do with one record. */
export type MergeKind = 'create' | 'update' | 'unchanged';

/** The outcome of {@link mergeAlumno}. */
export interface MergeResult {
  readonly kind: MergeKind;
  /** Every field the ingestion owns, as it must be stored (for `unchanged`, the stored values). */
  readonly values: AlumnoIngestFields;
  /** The fields that change; for `create`, every field that gets a value. */
  readonly changes: readonly FieldChange[];
}

const isBlank = (value: unknown): boolean =>
  value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0);

/**
 * Only the fields ingestion owns, copied: a stored alumno may be a whole entity, and its other fields (account
 * state, ids) are not ours to write back.
 */
export function ingestFieldsOf(existing: Readonly<AlumnoIngestFields>): AlumnoIngestFields {
  return {
    tipo_documento: existing.tipo_documento,
    dni: existing.dni,
    nombre: existing.nombre,
    apellido: existing.apellido,
    email_personal: existing.email_personal,
    fecha_nacimiento: existing.fecha_nacimiento,
    cohorte: existing.cohorte,
    localidad: existing.localidad,
    telefono: existing.telefono,
    estado: existing.estado,
    fecha_ingreso: existing.fecha_ingreso,
    estado_ingreso: existing.estado_ingreso,
    modalidad: existing.modalidad,
    carreras: existing.carreras,
  };
}

/**
 * Merges the incoming SIAL values of a record of list `tipo` into the stored alumno (`undefined` when there is
 * none yet). Pure: the caller persists `values` when `kind` is not `unchanged`.
 * @throws Error when `existing` is another person (different tipo_documento or dni): a caller bug.
 */
export function mergeAlumno(
  existing: Readonly<AlumnoIngestFields> | undefined,
  incoming: IncomingAlumno,
  tipo: Tipo,
): MergeResult {
  const estado = ESTADO_FOR_TIPO[tipo];
  if (!existing) {
    const values: AlumnoIngestFields = {
      tipo_documento: incoming.tipo_documento,
      dni: incoming.dni,
      nombre: incoming.nombre ?? null,
      apellido: incoming.apellido ?? null,
      email_personal: incoming.email_personal ?? null,
      fecha_nacimiento: incoming.fecha_nacimiento ?? null,
      cohorte: incoming.cohorte ?? null,
      localidad: incoming.localidad ?? null,
      telefono: incoming.telefono ?? null,
      estado,
      fecha_ingreso: incoming.fecha_ingreso ?? null,
      estado_ingreso: incoming.estado_ingreso ?? null,
      modalidad: incoming.modalidad ?? null,
      carreras: incoming.carreras ?? null,
    };
    const changes: FieldChange[] = [
      { field: 'tipo_documento', before: null, after: values.tipo_documento },
      { field: 'dni', before: null, after: values.dni },
      { field: 'estado', before: null, after: estado },
    ];
    for (const field of MERGED_FIELDS) {
      if (values[field] !== null) changes.push({ field, before: null, after: values[field] });
    }
    return { kind: 'create', values, changes };
  }

  if (existing.tipo_documento !== incoming.tipo_documento || existing.dni !== incoming.dni) {
    throw new Error(
      `mergeAlumno: stored ${existing.tipo_documento} ${existing.dni} is not incoming ${incoming.tipo_documento} ${incoming.dni}`,
    );
  }
  const values = ingestFieldsOf(existing);
  const changes: FieldChange[] = [];
  const nextEstado = forwardEstado(existing.estado, estado);
  if (nextEstado !== existing.estado) {
    changes.push({ field: 'estado', before: existing.estado, after: nextEstado });
    values.estado = nextEstado;
  }
  for (const field of MERGED_FIELDS) {
    const after = incoming[field];
    if (isBlank(after)) continue;
    const before = existing[field];
    const same = field === 'carreras' ? jsonEqual(before, after) : before === after;
    if (same) continue;
    changes.push({ field, before, after });
    (values as unknown as Record<string, unknown>)[field] = after;
  }
  return { kind: changes.length === 0 ? 'unchanged' : 'update', values, changes };
}
