import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema } from '@lucy/proto';

/**
 * Spanish labels of the request fields the services name in their errors (wire paths, snake_case, array indices
 * removed). Staff read "Minuto del crontab", not `crontab.minute`.
 */
const FIELD_LABELS: Record<string, string> = {
  id: 'Identificador',
  ids: 'Identificadores',
  name: 'Nombre',
  nombre: 'Nombre',
  description: 'Descripción',
  task: 'Tarea registrada',
  task_name: 'Tarea registrada',
  task_id: 'Tarea',
  periodic_task: 'Tarea periódica',
  periodic_task_id: 'Tarea periódica',
  schedule: 'Programación',
  interval_id: 'Programación',
  crontab_id: 'Programación',
  solar_id: 'Programación',
  clocked_id: 'Programación',
  'interval.every': 'Cada (intervalo)',
  'interval.period': 'Unidad del intervalo',
  'crontab.minute': 'Minuto del crontab',
  'crontab.hour': 'Hora del crontab',
  'crontab.day_of_month': 'Día del mes del crontab',
  'crontab.month_of_year': 'Mes del crontab',
  'crontab.day_of_week': 'Día de la semana del crontab',
  'crontab.timezone': 'Zona horaria del crontab',
  'solar.event': 'Evento solar',
  'solar.latitude': 'Latitud',
  'solar.longitude': 'Longitud',
  'clocked.clocked_time': 'Fecha y hora de ejecución',
  kwargs: 'Parámetros',
  args: 'Argumentos',
  start_time: 'Inicio',
  expires: 'Expira',
  'missed_run_policy.mode': 'Ejecuciones perdidas',
  'missed_run_policy.cap': 'Máximo de ejecuciones perdidas',
  count: 'Cantidad',
  after: 'Desde',
  days: 'Días',
  retention_days: 'Días de retención',
  estado: 'Estado',
  estados: 'Estado',
  'filter.estados': 'Estado',
  'filter.ids': 'Identificadores',
  'filter.modalidad': 'Modalidad',
  tipo: 'Tipo',
  tipos: 'Tipo',
  levels: 'Nivel',
  desde: 'Desde',
  hasta: 'Hasta',
  alumno_id: 'Alumno',
  alumno_ids: 'Alumnos',
  dni: 'DNI',
  tipo_documento: 'Tipo de documento',
  telefono: 'Teléfono',
  sequences: 'Secuencias',
  requested_by: 'Usuario',
  username: 'Usuario',
  motivo: 'Motivo',
  mensaje: 'Mensaje',
  asunto: 'Asunto',
  cuerpo: 'Cuerpo',
  limit: 'Límite',
  'page.page_size': 'Filas por página (--limite)',
  'page.page_token': 'Página (--pagina)',
  time_zone: 'Zona horaria',
  timezone: 'Zona horaria',
  sial_requests_por_segundo: 'Pedidos por segundo a SIAL (--requests-por-segundo)',
  sial_concurrencia: 'Pedidos en paralelo a SIAL (--concurrencia)',
};

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

/**
 * The Spanish label of a field path as a service names it (`crontab.minute`, `ventanas[0].diaFin`,
 * `kwargs.desde`), or undefined when there is none.
 */
export function fieldLabel(path: string): string | undefined {
  const normal = snake(path.replace(/\[\d+\]/g, ''));
  const known = FIELD_LABELS[normal];
  if (known) return known;
  const kwarg = /^(?:kwargs|variables)\.(.+)$/.exec(path);
  if (kwarg) return `Parámetro «${kwarg[1]}»`;
  // `crontab.every` under another schedule kind: label the last segment when it is known alone.
  const last = normal.split('.').at(-1)!;
  if (normal.includes('.') && FIELD_LABELS[`crontab.${last}`]) return FIELD_LABELS[`crontab.${last}`];
  if (normal.includes('.') && FIELD_LABELS[`interval.${last}`]) return FIELD_LABELS[`interval.${last}`];
  return undefined;
}

/** `path: description` pairs of a message built by the platform's ValidationError (`a: x; b: y`). */
const LEADING_PATH = /(^|; )([A-Za-z_][\w.[\]]*): /g;

function relabel(message: string): string {
  return message.replace(LEADING_PATH, (whole, sep: string, path: string) => {
    const label = fieldLabel(path);
    return label ? `${sep}${label}: ` : whole;
  });
}

/** An error as the CLI reports it: the message staff read, and the details scripts and debugging need. */
export interface ReportedError {
  /** One line (or a few) in Spanish, fields named by their label; no gRPC code. */
  message: string;
  /** The gRPC code name (`invalid_argument`) of an RPC error. */
  code?: string;
  /** Its number (3). */
  codeNumber?: number;
  /** Each invalid field: the service's path, our label, the service's description. */
  fields?: { field: string; label?: string; description: string }[];
}

const codeName = (c: Code) => snake(Code[c] ?? String(c));

/** What the CLI says about an error: Spanish labels for fields, a hint when a service does not answer. */
export function describeError(err: unknown): ReportedError {
  if (!(err instanceof ConnectError)) return { message: err instanceof Error ? err.message : String(err) };
  const base = { code: codeName(err.code), codeNumber: err.code };
  const violations =
    err.code === Code.InvalidArgument ? err.findDetails(BadRequestSchema)[0]?.violations : [];
  if (violations?.length) {
    const fields = violations.map((v) => ({
      field: v.field,
      ...(fieldLabel(v.field) ? { label: fieldLabel(v.field) } : {}),
      description: v.description,
    }));
    const message = fields.map((f) => `${f.label ?? f.field}: ${f.description}`).join('; ');
    return { ...base, message, fields };
  }
  if (err.code === Code.Unavailable && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|connect/i.test(err.rawMessage)) {
    const where = /(\d{1,3}(?:\.\d{1,3}){3}:\d+|[\w.-]+:\d+)/.exec(err.rawMessage)?.[1];
    return {
      ...base,
      message:
        `No se pudo conectar con el servicio${where ? ` en ${where}` : ''}: ¿está en marcha? ` +
        '(npm run up; las URL se cambian con LUCY_TRACKER_URL, LUCY_SCHEDULER_URL, LUCY_INGEST_URL, …)',
    };
  }
  return { ...base, message: relabel(err.rawMessage) };
}

/**
 * Writes an error to stderr: one Spanish line for people; with `json`, a JSON object with the code too; with
 * `debug`, the code and the stack.
 */
export function reportError(err: unknown, options: { json?: boolean; debug?: boolean }): void {
  const reported = describeError(err);
  if (options.json) {
    process.stderr.write(`${JSON.stringify({ error: reported }, null, 2)}\n`);
    return;
  }
  process.stderr.write(`error: ${reported.message}\n`);
  if (options.debug) {
    if (reported.code) process.stderr.write(`código: ${reported.code} (${reported.codeNumber})\n`);
    if (err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
}
