// The alumnos pages' server side: filters from the query string, plain views of alumnos and accounts, the
// per-alumno pre-checks of the identity actions (the same rules identity-teams' Enqueue applies) and the delete
// guard.
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  Estado,
  TipoIngesta,
  type Alumno,
  type AlumnoFilter,
  type CuentaExterna,
  type VentanaIngesta,
} from '@lucy/proto';
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

/** The list's filters as read from the query string. */
export interface FiltrosAlumnos {
  q: string;
  estados: EstadoAlumno[];
  carrera: string;
  cohorte: string;
  email: '' | 'con' | 'sin';
  cuenta: '' | 'con' | 'sin';
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
    cuenta: pick(p.get('cuenta'), ['con', 'sin'] as const),
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
    ...(f.cuenta ? { conEmailInstitucional: f.cuenta === 'con' } : {}),
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

/** The ingestion tipo whose flags govern an alumno of a stage (the alumno stage follows ingresantes). */
function tipoDeEstado(estado: string): TipoIngesta {
  if (estado === 'preinscripto') return TipoIngesta.PREINSCRIPTOS;
  if (estado === 'aspirante') return TipoIngesta.ASPIRANTES;
  return TipoIngesta.INGRESANTES;
}
const TIPO_NOMBRE: Record<number, string> = {
  [TipoIngesta.PREINSCRIPTOS]: 'preinscriptos',
  [TipoIngesta.ASPIRANTES]: 'aspirantes',
  [TipoIngesta.INGRESANTES]: 'ingresantes',
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

/**
 * What identity-teams' Enqueue would answer for each alumno, shown before anything is queued: preinscriptos and
 * alumnos without e-mail are rejected (when the action sends one), active accounts are omitted unless «forzar».
 * Enqueue applies the same rules again and its answer is the one shown after queueing.
 */
export function preChecks(
  accion: Accion,
  ids: string[],
  alumnos: Map<string, AlumnoView>,
  cuentas: Map<string, CuentaView>,
  ventanas: VentanaIngesta[] | undefined,
  forzar: boolean,
): PreCheck[] {
  return ids.map((id) => {
    const a = alumnos.get(id);
    const base = {
      alumnoId: id,
      nombre: a ? `${a.apellido}, ${a.nombre}` : id,
      dni: a?.dni ?? '',
      taskId: '',
    };
    const r = (estado: PreCheck['estado'], motivo = ''): PreCheck => ({ ...base, estado, motivo });
    if (!a) return r('rechazado', 'Alumno no encontrado.');
    const cuenta = cuentas.get(id);
    if (accion !== 'resetear' && a.estado === 'preinscripto')
      return r('rechazado', 'Los preinscriptos no reciben cuentas de Teams ni de Moodle.');
    let enviaEmail: boolean = ACCIONES[accion].enviarEmail;
    if (accion === 'activar' && ventanas) {
      const tipo = tipoDeEstado(a.estado);
      const v = ventanas.find((w) => w.tipo === tipo);
      if (v && !v.activarTeams && !v.activarMoodle)
        return r(
          'omitido',
          `La configuración de ${TIPO_NOMBRE[tipo]} no activa Teams ni Moodle (activar_teams, activar_moodle).`,
        );
      if (v) enviaEmail = v.enviarEmail;
    }
    if (enviaEmail && !a.emailPersonal.trim())
      return r('rechazado', 'Sin e-mail: el alumno no tiene e-mail personal.');
    if (accion !== 'resetear' && cuenta?.estado === 'activa' && !forzar)
      return r('omitido', `Ya activado (${cuenta.upn}); use «forzar» para repetir.`);
    if (accion === 'resetear' && cuenta?.estado === 'eliminada')
      return r('rechazado', `La cuenta ${cuenta.upn} fue eliminada: no hay contraseña que resetear.`);
    if (accion === 'resetear' && !cuenta?.upn && !a.emailInstitucional)
      return r('rechazado', 'No tiene cuenta de Teams: use «Activar» o «Crear usuario» primero.');
    return r('programada');
  });
}

/**
 * Whether deleting the alumno may remove its external accounts: identity-teams removes only UPNs that start with
 * the safe prefix (GRAPH_SAFE_DELETE_PREFIX); the admin refuses any other deletion up front with the same reason,
 * so no alumno is deleted while its account would stay behind.
 */
export function motivoNoEliminable(upn: string, safePrefix: string): string | undefined {
  const target = upn.trim().toLowerCase();
  if (!target) return undefined;
  const prefix = safePrefix.trim().toLowerCase();
  if (!prefix)
    return `SEGURIDAD: no se elimina la cuenta ${upn}: no hay un prefijo de cuentas eliminables configurado.`;
  if (!target.includes('@') || !target.startsWith(prefix))
    return `SEGURIDAD: no se elimina la cuenta «${upn}»: solo se eliminan cuentas cuyo UPN empieza con «${prefix}».`;
  return undefined;
}
