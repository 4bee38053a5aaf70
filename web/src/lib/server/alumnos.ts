// The alumnos pages' server side: filters from the query string and plain views of alumnos and accounts. The
// pre-checks of the identity actions and the delete guard are identity-teams' (IdentityService.PreCheck and
// CheckDeletion).
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { Estado, type Alumno, type AlumnoFilter, type CuentaExterna } from '@lucy/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { AlumnoFilterSchema } from '@lucy/proto';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Alumno stages, as the filter and the pages name them. */
export const ESTADOS_ALUMNO = ['preinscripto', 'aspirante', 'ingresante', 'alumno'] as const;
export type EstadoAlumno = (typeof ESTADOS_ALUMNO)[number];
const ESTADO_PB: Record<EstadoAlumno, Estado> = {
  preinscripto: Estado.PREINSCRIPTO,
  aspirante: Estado.ASPIRANTE,
  ingresante: Estado.INGRESANTE,
  alumno: Estado.ALUMNO,
};

/** The three actions of the seed, with its exact labels and the registered task each one queues. */
export const ACCIONES = {
  activar: {
    label: '🚀 Activar Teams + Enviar Email',
    task: 'alumnos.tasks.activar_servicios_alumno',
    enviarEmail: true,
  },
  crear: {
    label: '👤 Crear usuario en Teams (sin email)',
    task: 'alumnos.tasks.crear_usuario_teams_async',
    enviarEmail: false,
  },
  resetear: {
    label: '🔄 Generar contraseña y enviar correo',
    task: 'alumnos.tasks.resetear_password_y_enviar_email',
    enviarEmail: true,
  },
} as const;
export type Accion = keyof typeof ACCIONES;
export const isAccion = (v: string): v is Accion => Object.hasOwn(ACCIONES, v);

/** The spec's best practice ("Mejores Prácticas → Tareas Asíncronas"): at most 50 alumnos at a time. */
export const LOTE_RECOMENDADO = 50;
export const AVISO_LOTE =
  'Mejores Prácticas → Tareas Asíncronas: «Lotes pequeños: procesar máximo 50 alumnos por vez desde el admin». ' +
  'Divida la selección en tandas de hasta 50.';

/**
 * The account-state filter, finer than with / without an account: `sin` and `con` are ingest-sial's (whether the
 * alumno has an institutional e-mail); the others are identity-teams' records, furthest step reached.
 */
export const CUENTA_FILTROS = ['sin', 'con', 'creada', 'licencia', 'email', 'error'] as const;
export type CuentaFiltro = (typeof CUENTA_FILTROS)[number];
export const CUENTA_FILTRO_LABEL: Record<CuentaFiltro, string> = {
  sin: 'Sin cuenta',
  con: 'Con cuenta',
  creada: 'Creada (sin licencia)',
  licencia: 'Licencia asignada',
  email: 'E-mail enviado',
  error: 'Con error',
};
/** Whether the filter is answered from identity-teams' account records. */
export const isCuentaIdentity = (f: '' | CuentaFiltro): f is 'creada' | 'licencia' | 'email' | 'error' =>
  f === 'creada' || f === 'licencia' || f === 'email' || f === 'error';

/** Whether an account record is in the state a filter asks (the furthest step it reached). */
export function cuentaCoincide(filtro: CuentaFiltro, c: CuentaView): boolean {
  const viva = c.estado !== 'eliminada' && c.estado !== 'fallida';
  switch (filtro) {
    case 'creada':
      return viva && c.upn !== '' && !c.licencia && !c.emailEnviado;
    case 'licencia':
      return viva && c.licencia && !c.emailEnviado;
    case 'email':
      return viva && c.emailEnviado;
    case 'error':
      return c.estado === 'fallida';
    default:
      return c.estado !== 'eliminada' && c.upn !== '';
  }
}

/** The list's filters as read from the query string. */
export interface FiltrosAlumnos {
  q: string;
  estados: EstadoAlumno[];
  carrera: string;
  cohorte: string;
  email: '' | 'con' | 'sin';
  cuenta: '' | CuentaFiltro;
  cursor: string;
  n: number;
}

export function parseFiltros(p: URLSearchParams): FiltrosAlumnos {
  const pick = <T extends string>(v: string | null, allowed: readonly T[]): T | '' =>
    allowed.includes(v as T) ? (v as T) : '';
  return {
    q: (p.get('q') ?? '').trim().slice(0, 200),
    estados: p
      .getAll('estado')
      .filter((e): e is EstadoAlumno => (ESTADOS_ALUMNO as readonly string[]).includes(e)),
    carrera: /^\d{1,12}$/.test(p.get('carrera') ?? '') ? (p.get('carrera') as string) : '',
    cohorte: /^\d{4}$/.test(p.get('cohorte') ?? '') ? (p.get('cohorte') as string) : '',
    email: pick(p.get('email'), ['con', 'sin'] as const),
    cuenta: pick(p.get('cuenta'), CUENTA_FILTROS),
    cursor: (p.get('cursor') ?? '').slice(0, 500),
    n: Math.min(Math.max(Number(p.get('n')) || 50, 10), 200),
  };
}

/** The RPC filter of the list's filters (and, for an export of a selection, the selected ids). */
export function toFilter(f: FiltrosAlumnos, ids: string[] = []): MessageInitShape<typeof AlumnoFilterSchema> {
  return {
    estados: f.estados.map((e) => ESTADO_PB[e]),
    idCarrera: f.carrera ? BigInt(f.carrera) : 0n,
    cohorte: f.cohorte ? Number(f.cohorte) : 0,
    ...(f.email ? { conAlgunEmail: f.email === 'con' } : {}),
    ...(f.cuenta === 'con' || f.cuenta === 'sin' ? { conEmailInstitucional: f.cuenta === 'con' } : {}),
    search: f.q,
    ids,
  };
}
export type { AlumnoFilter };

const iso = (t: Timestamp | undefined): string | null => (t ? timestampDate(t).toISOString() : null);
const estadoName = (e: Estado): string => (Estado[e] ?? '').toLowerCase().replace(/^unspecified$/, '');

export interface CarreraView {
  id: string;
  nombre: string;
  modalidad: string;
  cohorte: number;
  fechaInscri: string;
  estadoIngreso: string;
  comisiones: string[];
}

export interface AlumnoView {
  id: string;
  tipoDocumento: string;
  dni: string;
  nombre: string;
  apellido: string;
  emailPersonal: string;
  emailInstitucional: string;
  fechaNacimiento: string;
  cohorte: number;
  localidad: string;
  telefono: string;
  estado: string;
  fechaIngreso: string;
  estadoIngreso: string;
  modalidad: string;
  carreras: CarreraView[];
  teams: boolean;
  moodle: boolean;
  emailEnviado: boolean;
  createdAt: string | null;
  updatedAt: string | null;
}

export function alumnoView(a: Alumno): AlumnoView {
  return {
    id: a.id,
    tipoDocumento: a.tipoDocumento,
    dni: a.dni,
    nombre: a.nombre,
    apellido: a.apellido,
    emailPersonal: a.emailPersonal,
    emailInstitucional: a.emailInstitucional,
    fechaNacimiento: a.fechaNacimiento,
    cohorte: a.cohorte,
    localidad: a.localidad,
    telefono: a.telefono,
    estado: estadoName(a.estado),
    fechaIngreso: a.fechaIngreso,
    estadoIngreso: a.estadoIngreso,
    modalidad: a.modalidad,
    carreras: a.carreras.map((c) => ({
      id: String(c.idCarrera),
      nombre: c.nombreCarrera,
      modalidad: c.modalidad,
      cohorte: c.cohorte,
      fechaInscri: c.fechaInscri,
      estadoIngreso: c.estadoIngreso,
      comisiones: c.comisiones.map((m) => m.nombreComision),
    })),
    teams: a.teamsProcesado,
    moodle: a.moodleProcesado,
    emailEnviado: a.emailProcesado,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

export interface CuentaView {
  upn: string;
  estado: string;
  licencia: boolean;
  licenciaSku: string;
  moodleUsername: string;
  tienePasswordTemporal: boolean;
  emailSolicitado: boolean;
  emailEnviado: boolean;
  creadaEn: string | null;
  activadaEn: string | null;
  eliminadaEn: string | null;
  ultimoError: string;
}

export function cuentaView(c: CuentaExterna): CuentaView {
  return {
    upn: c.upn,
    estado: c.estado,
    licencia: c.licenciaAsignada,
    licenciaSku: c.licenciaSku,
    moodleUsername: c.moodleUsername,
    tienePasswordTemporal: c.tienePasswordTemporal,
    emailSolicitado: c.emailSolicitado,
    emailEnviado: c.emailEnviado,
    creadaEn: iso(c.creadaEn),
    activadaEn: iso(c.activadaEn),
    eliminadaEn: iso(c.eliminadaEn),
    ultimoError: c.ultimoError,
  };
}

export const ESTADO_ALUMNO_LABEL: Record<string, string> = {
  preinscripto: 'Preinscripto',
  aspirante: 'Aspirante',
  ingresante: 'Ingresante',
  alumno: 'Alumno',
};
export const CUENTA_LABEL: Record<string, string> = {
  pendiente: 'Pendiente',
  activa: 'Activa',
  eliminada: 'Eliminada',
  fallida: 'Fallida',
  '': 'Sin cuenta',
};

/** One alumno's pre-check before an action is queued. */
export interface PreCheck {
  alumnoId: string;
  nombre: string;
  dni: string;
  estado: 'programada' | 'rechazado' | 'omitido';
  motivo: string;
  taskId: string;
}

/** Most alumnos an account-state filter answered by identity-teams selects (ingest-sial's limit on listed ids). */
export const MAX_IDS_CUENTA = 500;
/** Account records read to answer such a filter (pages of 500). */
const MAX_CUENTAS_LEIDAS = 20_000;

/**
 * The alumnos whose account is in the state asked, from identity-teams' records (read page by page), at most
 * {@link MAX_IDS_CUENTA}; `cortado` says there were more (staff are asked to narrow the list with other filters).
 */
export async function idsPorCuenta(
  filtro: 'creada' | 'licencia' | 'email' | 'error',
  page: (
    token: string,
    estado: string,
  ) => Promise<{ cuentas: CuentaView[]; alumnoIds: string[]; next: string }>,
): Promise<{ ids: string[]; cortado: boolean }> {
  const ids: string[] = [];
  let token = '';
  for (let leidas = 0; leidas < MAX_CUENTAS_LEIDAS;) {
    const p = await page(token, filtro === 'error' ? 'fallida' : '');
    leidas += p.cuentas.length;
    for (const [i, c] of p.cuentas.entries()) {
      if (!cuentaCoincide(filtro, c)) continue;
      if (ids.length === MAX_IDS_CUENTA) return { ids, cortado: true };
      ids.push(p.alumnoIds[i]!);
    }
    if (!p.next || p.cuentas.length === 0) return { ids, cortado: false };
    token = p.next;
  }
  return { ids, cortado: true };
}
