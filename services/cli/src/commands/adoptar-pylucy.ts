/**
 * Reading a pylucy database for `lucy adoptar pylucy`: one read-only transaction (one snapshot for everything),
 * tables streamed through a server-side cursor in batches (never a whole table in memory), and the mapping of
 * pylucy's rows to the import messages of each service. The plaintext password column is never selected: only
 * whether it is set.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  Estado,
  ImportedAlumnoSchema,
  ImportedLogSchema,
  ImportedTareaSchema,
  IntervalPeriod,
  SolarEvent,
  TipoEmail,
  TipoIngesta,
  type ImportedPlantillaSchema,
  type VentanaIngestaSchema,
  type ImportedAlumno,
  type ImportedLog,
  type ImportedPeriodicTaskSchema,
  type ImportedTarea,
} from '@lucy/proto';

/** A pylucy database opened in one read-only snapshot. */
export interface PylucySnapshot {
  client: pg.Client;
  /** Tables present (pylucy's schema varies between deployments: read information_schema, not Django's state). */
  tables: Set<string>;
  /** Columns present per table. */
  columns: Map<string, Set<string>>;
  close(): Promise<void>;
}

/** Opens `url` read-only: `BEGIN ISOLATION LEVEL REPEATABLE READ` + `SET TRANSACTION READ ONLY`, one snapshot. */
export async function openPylucy(url: string): Promise<PylucySnapshot> {
  const client = new pg.Client({ connectionString: url, application_name: 'lucy adoptar pylucy' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query('begin isolation level repeatable read');
    await client.query('set transaction read only');
    const cols = await client.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns
       where table_schema = current_schema() and (table_name like 'alumnos\\_%' or table_name like 'django\\_celery\\_beat\\_%'
         or table_name like 'cursos\\_%')`,
    );
    const columns = new Map<string, Set<string>>();
    for (const r of cols.rows) {
      if (!columns.has(r.table_name)) columns.set(r.table_name, new Set());
      columns.get(r.table_name)!.add(r.column_name);
    }
    return {
      client,
      tables: new Set(columns.keys()),
      columns,
      async close() {
        await client.query('rollback').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
}

let cursorSeq = 0;

/** Streams the rows of `sql` in batches of `batchSize` through a server-side cursor of the open transaction. */
export async function* streamRows<T extends pg.QueryResultRow>(
  snap: PylucySnapshot,
  sql: string,
  params: unknown[],
  batchSize: number,
): AsyncGenerator<T[]> {
  const name = `adoptar_${++cursorSeq}`;
  await snap.client.query(`declare ${name} no scroll cursor for ${sql}`, params);
  try {
    for (;;) {
      const { rows } = await snap.client.query<T>(`fetch forward ${batchSize} from ${name}`);
      if (rows.length === 0) return;
      yield rows;
    }
  } finally {
    await snap.client.query(`close ${name}`).catch(() => undefined);
  }
}

/** `select count(*)` in the snapshot. */
export async function countRows(snap: PylucySnapshot, from: string, params: unknown[] = []): Promise<number> {
  const { rows } = await snap.client.query<{ n: string }>(`select count(*)::text as n from ${from}`, params);
  return Number(rows[0]?.n ?? 0);
}

const ts = (d: Date | string | null | undefined): Timestamp | undefined =>
  d ? timestampFromDate(d instanceof Date ? d : new Date(d)) : undefined;
const dateText = (d: Date | string | null | undefined): string => {
  if (!d) return '';
  if (typeof d === 'string') return d.slice(0, 10);
  // A `date` column comes back as local midnight: its local calendar day is the stored one.
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
};

// Control characters other than tab and newlines: never accepted by the services' RPC bounds.
// eslint-disable-next-line no-control-regex -- these are exactly what is removed
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;
/** Text as the services accept it. */
export const clean = (s: string | null | undefined): string => (s ?? '').replace(CONTROL, ' ');

/** Keys whose values are secrets in pylucy's JSON (the plaintext passwords of `crear_usuario_teams_async`). */
const SECRET_KEY = /pass|contrase|clave|secret|token|pwd/i;

/**
 * A detalles value without secrets: every value under a secret-named key is dropped (replaced by a marker), at
 * any depth, and strings are cleaned. Returns the value and whether anything was dropped.
 */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return clean(value);
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEY.test(k) ? '[omitido al migrar]' : scrub(v, depth + 1);
  return out;
}

/** Estado of pylucy (`estado_actual`) → proto. */
const ESTADOS: Record<string, Estado> = {
  preinscripto: Estado.PREINSCRIPTO,
  aspirante: Estado.ASPIRANTE,
  ingresante: Estado.INGRESANTE,
  alumno: Estado.ALUMNO,
};

/** A row of `alumnos_alumno` as read (never the password: only whether one is set). */
export interface AlumnoRow {
  id: string;
  tipo_documento: string;
  dni: string;
  nombre: string;
  apellido: string;
  email_personal: string;
  fecha_nacimiento: Date | string | null;
  cohorte: number | null;
  localidad: string | null;
  telefono: string | null;
  email_institucional: string | null;
  estado_actual: string;
  fecha_ingreso: Date | string | null;
  estado_ingreso: string | null;
  modalidad_actual: string | null;
  carreras_data: unknown;
  tiene_password: boolean;
  teams_procesado: boolean;
  moodle_procesado: boolean;
  email_procesado: boolean;
  fecha_ultima_modificacion: Date | string | null;
}

/** The query of alumnos; `teams_password` appears only inside a boolean test. */
export const ALUMNOS_SQL = `select id::text, tipo_documento, dni, nombre, apellido, email_personal, fecha_nacimiento::text,
  cohorte, localidad, telefono, email_institucional, estado_actual, fecha_ingreso::text, estado_ingreso,
  modalidad_actual, carreras_data, coalesce(teams_password, '') <> '' as tiene_password, teams_procesado,
  moodle_procesado, email_procesado, fecha_ultima_modificacion
  from alumnos_alumno order by id`;

/**
 * The fingerprint of an alumno row as read (every selected column, the password only as set or not): stored with
 * the alumno by ImportAlumnos, so a re-run probes it and skips the row while it is unchanged in pylucy. The
 * prefix names the mapping's version: changing the mapping changes every fingerprint.
 */
export function alumnoFingerprint(r: AlumnoRow): string {
  return createHash('sha256').update('v1\u0000').update(JSON.stringify(r)).digest('base64url').slice(0, 32);
}

/** An alumno of pylucy as ImportAlumnos takes it. */
export function toImportedAlumno(r: AlumnoRow): ImportedAlumno {
  const carreras = Array.isArray(r.carreras_data) ? (scrub(r.carreras_data) as unknown[]) : [];
  return create(ImportedAlumnoSchema, {
    originalId: BigInt(r.id),
    tipoDocumento: clean(r.tipo_documento),
    dni: clean(r.dni),
    nombre: clean(r.nombre),
    apellido: clean(r.apellido),
    emailPersonal: clean(r.email_personal),
    fechaNacimiento: dateText(r.fecha_nacimiento),
    cohorte: r.cohorte ?? 0,
    localidad: clean(r.localidad),
    telefono: clean(r.telefono),
    estado: ESTADOS[r.estado_actual] ?? Estado.UNSPECIFIED,
    fechaIngreso: dateText(r.fecha_ingreso),
    estadoIngreso: clean(r.estado_ingreso),
    modalidad: clean(r.modalidad_actual),
    carreras: {
      values: carreras
        .filter((c) => c !== null && typeof c === 'object' && !Array.isArray(c))
        .map((c) => ({
          kind: { case: 'structValue' as const, value: toStruct(c as Record<string, unknown>) },
        })),
    },
  });
}

type ValueInit = MessageInitShape<typeof ImportedTareaSchema>['detalles'];

/** JSON → google.protobuf.Value init. */
export function toValue(v: unknown): NonNullable<ValueInit> {
  if (v === null || v === undefined) return { kind: { case: 'nullValue', value: 0 } };
  if (typeof v === 'string') return { kind: { case: 'stringValue', value: v } };
  if (typeof v === 'number') return { kind: { case: 'numberValue', value: v } };
  if (typeof v === 'boolean') return { kind: { case: 'boolValue', value: v } };
  if (Array.isArray(v)) return { kind: { case: 'listValue', value: { values: v.map(toValue) } } };
  return { kind: { case: 'structValue', value: toStruct(v as Record<string, unknown>) } };
}

function toStruct(o: Record<string, unknown>) {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

/** A pylucy Tarea row. */
export interface TareaRow {
  id: string;
  tipo: string;
  estado: string;
  celery_task_id: string | null;
  hora_programada: Date;
  hora_inicio: Date | null;
  hora_fin: Date | null;
  cantidad_entidades: number;
  detalles: unknown;
  usuario: string | null;
  mensaje_error: string | null;
  alumno_id: string | null;
}

/** The Tareas of the window, light: what the report counts and the tracker's probe needs. */
export const TAREA_IDS_SQL = `select id::text, tipo, estado from alumnos_tarea where hora_programada >= $1 order by id`;

/** Whole Tareas by id (a batch the tracker lacks). */
export const TAREAS_BY_ID_SQL = `select id::text, tipo, estado, celery_task_id, hora_programada, hora_inicio, hora_fin,
  cantidad_entidades, detalles, usuario, mensaje_error, alumno_id::text from alumnos_tarea
  where id = any($1::bigint[]) order by id`;

/** What the command knows of an imported alumno, for the history's links and search. */
export interface AlumnoLink {
  id: string;
  nombre: string;
  dni: string;
}

export function toImportedTarea(r: TareaRow, alumno: AlumnoLink | undefined): ImportedTarea {
  return create(ImportedTareaSchema, {
    originalId: BigInt(r.id),
    tipo: clean(r.tipo),
    estado: clean(r.estado),
    usuario: clean(r.usuario),
    alumnoId: alumno?.id ?? '',
    alumnoNombre: alumno?.nombre ?? '',
    alumnoDni: alumno?.dni ?? '',
    horaProgramada: ts(r.hora_programada),
    horaInicio: ts(r.hora_inicio),
    horaFin: ts(r.hora_fin),
    cantidadEntidades: BigInt(r.cantidad_entidades ?? 0),
    // As JSON text: a google.protobuf.Value per row was most of the encoding (and the tracker's decoding) cost.
    detallesJson: r.detalles === null || r.detalles === undefined ? '' : JSON.stringify(scrub(r.detalles)),
    mensajeError: clean(r.mensaje_error),
    celeryTaskId: clean(r.celery_task_id),
  });
}

/** A pylucy Log row. */
export interface LogRow {
  id: string;
  tipo: string;
  modulo: string;
  mensaje: string;
  detalles: unknown;
  usuario: string | null;
  fecha: Date;
  alumno_id: string | null;
}

/** The Logs of the window, ids only. */
export const LOG_IDS_SQL = `select id::text from alumnos_log where fecha >= $1 order by id`;

/** Whole Logs by id (a batch the tracker lacks). */
export const LOGS_BY_ID_SQL = `select id::text, tipo, modulo, mensaje, detalles, usuario, fecha, alumno_id::text
  from alumnos_log where id = any($1::bigint[]) order by id`;

export function toImportedLog(r: LogRow, alumno: AlumnoLink | undefined): ImportedLog {
  return create(ImportedLogSchema, {
    originalId: BigInt(r.id),
    tipo: clean(r.tipo),
    modulo: clean(r.modulo),
    mensaje: clean(r.mensaje),
    detallesJson: r.detalles === null || r.detalles === undefined ? '' : JSON.stringify(scrub(r.detalles)),
    alumnoId: alumno?.id ?? '',
    usuario: clean(r.usuario),
    fecha: ts(r.fecha),
  });
}

/** The tipos pylucy defines (facts §2.3); others were written by its bugs and are kept as they are. */
export const DEFINED_TIPOS = new Set([
  'ingesta_preinscriptos',
  'ingesta_aspirantes',
  'ingesta_ingresantes',
  'eliminar_cuenta',
  'enviar_email',
  'activar_servicios',
  'crear_usuario_teams',
  'resetear_password',
  'moodle_enroll',
]);

/** A periodic task of django-celery-beat with its schedule, as read. */
export interface BeatRow {
  id: number;
  name: string;
  task: string;
  args: string;
  kwargs: string;
  enabled: boolean;
  one_off: boolean;
  start_time: Date | null;
  expires: Date | null;
  description: string;
  last_run_at: Date | null;
  total_run_count: number;
  c_minute: string | null;
  c_hour: string | null;
  c_dow: string | null;
  c_dom: string | null;
  c_moy: string | null;
  c_tz: string | null;
  i_every: number | null;
  i_period: string | null;
  s_event: string | null;
  s_lat: string | null;
  s_lon: string | null;
  k_time: Date | null;
}

export const BEAT_SQL = `select pt.id, pt.name, pt.task, pt.args, pt.kwargs, pt.enabled, pt.one_off, pt.start_time,
  pt.expires, pt.description, pt.last_run_at, pt.total_run_count,
  c.minute as c_minute, c.hour as c_hour, c.day_of_week as c_dow, c.day_of_month as c_dom,
  c.month_of_year as c_moy, c.timezone::text as c_tz, i.every as i_every, i.period as i_period,
  s.event as s_event, s.latitude::text as s_lat, s.longitude::text as s_lon, k.clocked_time as k_time
  from django_celery_beat_periodictask pt
  left join django_celery_beat_crontabschedule c on c.id = pt.crontab_id
  left join django_celery_beat_intervalschedule i on i.id = pt.interval_id
  left join django_celery_beat_solarschedule s on s.id = pt.solar_id
  left join django_celery_beat_clockedschedule k on k.id = pt.clocked_id
  order by pt.id`;

/** pylucy's task functions and their registered names in Lucy Tasks (the module path varies: last part). */
const BEAT_TASKS: Record<string, string> = {
  ingestar_preinscriptos: 'alumnos.tasks.ingestar_preinscriptos',
  ingestar_aspirantes: 'alumnos.tasks.ingestar_aspirantes',
  ingestar_ingresantes: 'alumnos.tasks.ingestar_ingresantes',
  ingesta_manual_task: 'alumnos.tasks.ingesta_manual',
};

/** Why the queue poller is not imported. */
export const QUEUE_POLLER_REASON =
  'Es el sondeo de la cola de Tareas pendientes de pylucy; en Lucy Tasks lo reemplaza JetStream (cada comando se procesa al publicarse).';

const camel = (k: string) => k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
const parseJson = (text: string, fallback: unknown): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fallback;
  }
};

/** A beat row as ImportPeriodicTasks takes it, or the reason it is skipped before asking the scheduler. */
export function toImportedPeriodicTask(
  r: BeatRow,
): { task: MessageInitShape<typeof ImportedPeriodicTaskSchema>; notes: string[] } | { skip: string } {
  const fn = r.task.split('.').at(-1) ?? r.task;
  if (fn === 'procesar_cola_tareas_pendientes') return { skip: QUEUE_POLLER_REASON };
  const notes: string[] = [];
  const task = BEAT_TASKS[fn] ?? r.task;
  const rawKwargs = parseJson(r.kwargs, {});
  const kwargs: Record<string, unknown> = {};
  if (rawKwargs && typeof rawKwargs === 'object' && !Array.isArray(rawKwargs)) {
    for (const [k, v] of Object.entries(rawKwargs)) {
      if (fn === 'ingesta_manual_task' && ['n', 'seed', 'usuario', 'enviar_email'].includes(k)) {
        notes.push(`Argumento «${k}» de pylucy sin equivalente: no se copia.`);
        continue;
      }
      if (fn === 'ingesta_manual_task' && k === 'tipo' && typeof v === 'string') {
        kwargs.tipo = `TIPO_INGESTA_${v.toUpperCase()}`;
        continue;
      }
      kwargs[camel(k)] = v;
    }
  }
  const args = parseJson(r.args, []);
  const base: MessageInitShape<typeof ImportedPeriodicTaskSchema> = {
    originalId: BigInt(r.id),
    name: clean(r.name),
    task,
    args: { values: (Array.isArray(args) ? args : []).map(toValue) },
    kwargs: kwargs as never,
    enabled: r.enabled,
    oneOff: r.one_off,
    startTime: ts(r.start_time),
    expires: ts(r.expires),
    description: clean(r.description),
    lastRunAt: ts(r.last_run_at),
    totalRunCount: BigInt(r.total_run_count ?? 0),
  };
  if (r.c_minute !== null) {
    base.crontab = {
      minute: r.c_minute,
      hour: r.c_hour ?? '*',
      dayOfWeek: r.c_dow ?? '*',
      dayOfMonth: r.c_dom ?? '*',
      monthOfYear: r.c_moy ?? '*',
      timezone: r.c_tz ?? 'America/Argentina/Cordoba',
    };
  } else if (r.i_every !== null) {
    const period = IntervalPeriod[(r.i_period ?? '').toUpperCase() as keyof typeof IntervalPeriod];
    base.interval = {
      every: BigInt(r.i_every),
      period: typeof period === 'number' ? period : IntervalPeriod.UNSPECIFIED,
    };
  } else if (r.s_event !== null) {
    const event = SolarEvent[(r.s_event ?? '').toUpperCase() as keyof typeof SolarEvent];
    base.solar = {
      event: typeof event === 'number' ? event : SolarEvent.UNSPECIFIED,
      latitude: Number(r.s_lat),
      longitude: Number(r.s_lon),
    };
  } else if (r.k_time !== null) {
    base.clocked = { clockedTime: ts(r.k_time) };
  }
  return { task: base, notes };
}

/** Columns of `alumnos_configuracion` that hold secrets: never selected, only whether each is set. */
export const CONFIG_SECRET_COLUMNS = ['teams_client_secret', 'sial_basic_pass', 'moodle_wstoken'] as const;

/** A value pylucy's fresh install ships as a placeholder (facts §2.7): it means "not configured". */
export const PLACEHOLDER_SQL = `'^(YOUR-|your-)|^(usuario|contrasena)$|mock-api-uti|mailhog'`;

/**
 * Reads the Configuración singleton without its secrets: every column the deployment has (pylucy's schema varies:
 * read information_schema), except the secret ones, which come back only as `vacio`, `marcador` or
 * `configurado` under `<column>__estado`.
 */
export async function readConfiguracion(snap: PylucySnapshot): Promise<Record<string, unknown> | undefined> {
  const cols = snap.columns.get('alumnos_configuracion');
  if (!cols) return undefined;
  const secret = new Set<string>(CONFIG_SECRET_COLUMNS);
  const select = [...cols].filter((c) => !secret.has(c) && /^[a-z_][a-z0-9_]*$/.test(c)).map((c) => `"${c}"`);
  for (const c of CONFIG_SECRET_COLUMNS)
    if (cols.has(c))
      select.push(
        `case when coalesce("${c}", '') = '' then 'vacio' when "${c}" ~ ${PLACEHOLDER_SQL} then 'marcador' else 'configurado' end as "${c}__estado"`,
      );
  const { rows } = await snap.client.query<Record<string, unknown>>(
    `select ${select.join(', ')} from alumnos_configuracion order by id limit 1`,
  );
  return rows[0];
}

const TIPOS_INGESTA = [
  ['preinscriptos', TipoIngesta.PREINSCRIPTOS],
  ['aspirantes', TipoIngesta.ASPIRANTES],
  ['ingresantes', TipoIngesta.INGRESANTES],
] as const;

const asDate = (v: unknown): Date | null =>
  v instanceof Date ? v : typeof v === 'string' && v ? new Date(v) : null;

/**
 * pylucy's windows, flags and checkpoints as ImportConfiguracion takes them. A pending «forzar carga completa»
 * leaves the checkpoint out (the next run starts from the window, as pylucy's would); the preinscriptos' Teams and
 * Moodle flags, which pylucy never read, go as «no» (what pylucy did).
 */
export function ventanasDe(row: Record<string, unknown>): MessageInitShape<typeof VentanaIngestaSchema>[] {
  return TIPOS_INGESTA.map(([tipo, pb]) => {
    const inicio = asDate(row[`${tipo}_dia_inicio`]);
    const fin = asDate(row[`${tipo}_dia_fin`]);
    const ultima =
      row[`${tipo}_forzar_carga_completa`] === true ? null : asDate(row[`ultima_ingesta_${tipo}`]);
    return {
      tipo: pb,
      ...(inicio ? { diaInicio: timestampFromDate(inicio) } : {}),
      ...(fin ? { diaFin: timestampFromDate(fin) } : {}),
      enviarEmail: row[`${tipo}_enviar_email`] === true,
      activarTeams: tipo !== 'preinscriptos' && row[`${tipo}_activar_teams`] === true,
      activarMoodle: tipo !== 'preinscriptos' && row[`${tipo}_activar_moodle`] === true,
      ...(ultima ? { ultimaIngesta: timestampFromDate(ultima) } : {}),
    };
  });
}

/** pylucy's stored subjects and templates per kind of e-mail (the password ones were never used: not here). */
export const PLANTILLAS_PYLUCY = [
  [TipoEmail.BIENVENIDA, 'Bienvenida', 'email_asunto_bienvenida', 'email_plantilla_bienvenida'],
  [
    TipoEmail.CREDENCIALES,
    'Credenciales de acceso',
    'email_asunto_credenciales',
    'email_plantilla_credenciales',
  ],
  [
    TipoEmail.ENROLAMIENTO,
    'Acceso al Ecosistema Virtual',
    'email_asunto_enrollamiento',
    'email_plantilla_enrollamiento',
  ],
] as const;

/**
 * The subjects and templates to import, per kind: empty ones are left out (pylucy sent its built-in e-mail), an
 * empty body with a subject imports the subject only.
 */
export function plantillasDe(
  row: Record<string, unknown>,
): (MessageInitShape<typeof ImportedPlantillaSchema> & { nombre: string })[] {
  const out: (MessageInitShape<typeof ImportedPlantillaSchema> & { nombre: string })[] = [];
  for (const [tipo, nombre, asuntoCol, cuerpoCol] of PLANTILLAS_PYLUCY) {
    const asunto = typeof row[asuntoCol] === 'string' ? clean(row[asuntoCol]).trim() : '';
    const cuerpo = typeof row[cuerpoCol] === 'string' ? clean(row[cuerpoCol]) : '';
    if (!asunto && !cuerpo.trim()) continue;
    out.push({
      tipo,
      nombre,
      asunto,
      cuerpo: cuerpo.trim() ? cuerpo : '',
      origen: [asunto && asuntoCol, cuerpo.trim() && cuerpoCol].filter(Boolean).join(' + '),
    });
  }
  return out;
}
