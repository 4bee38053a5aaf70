import { hash } from 'node:crypto';
import { toJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampDate, ValueSchema, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { redact, ValidationError, withInputBounds, type FieldError, type InputBounds } from '@lucy/platform';
import { TaskService, type ImportedLog, type ImportedTarea, type ImportHistorialRequest } from '@lucy/proto';
import type { Message, MessageInitShape } from '@bufbuild/protobuf';
import type { ImportHistorialResponseSchema } from '@lucy/proto';

type MessageInitOf = MessageInitShape<typeof ImportHistorialResponseSchema>;

/** Why a Tarea pending or running in pylucy is imported as failed: no worker of Lucy Tasks will ever finish it. */
export const INTERRUPTED_BY_ADOPTION = 'interrumpida por la migración desde pylucy';

/**
 * Rows of each kind per ImportHistorial call: a probe (ids only) takes up to this many; whole rows are bounded
 * by the request size long before.
 */
export const IMPORT_BATCH_MAX = 20_000;

/**
 * The id of an imported row: a name-based UUID (version 5 layout over SHA-1) of its pylucy table and original id,
 * so importing the same row again finds it (`on conflict (id) do nothing`) and no live task id can collide with it
 * (live ids are UUIDv7).
 */
export function pylucyRowId(table: 'tarea' | 'log', originalId: bigint | number | string): string {
  // One-shot hash (a `createHash` object per row was a tenth of the tracker's CPU in an adoption), version and
  // variant set on the hex digits: byte 6 → 0x5?, byte 8 → 0b10??????.
  const x = hash('sha1', `lucy-tasks:pylucy:${table}:${String(originalId)}`, 'hex');
  const variant = ((parseInt(x[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-${variant}${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

/** The registered task behind each pylucy tipo, where one exists (facts §2.3 and the task catalog). */
const TASK_NAME_OF_TIPO: Record<string, string> = {
  ingesta_preinscriptos: 'alumnos.tasks.ingestar_preinscriptos',
  ingesta_aspirantes: 'alumnos.tasks.ingestar_aspirantes',
  ingesta_ingresantes: 'alumnos.tasks.ingestar_ingresantes',
  activar_servicios: 'alumnos.tasks.activar_servicios_alumno',
  crear_usuario_teams: 'alumnos.tasks.crear_usuario_teams_async',
  resetear_password: 'alumnos.tasks.resetear_password_y_enviar_email',
  enviar_email: 'alumnos.tasks.enviar_email_credenciales',
  eliminar_cuenta: 'alumnos.tasks.eliminar_cuenta_externa',
};

const FINISHED = new Set(['completed', 'failed']);
const LEVELS = new Set(['INFO', 'WARNING', 'ERROR', 'SUCCESS', 'DEBUG']);

const date = (t: Timestamp | undefined): Date | null => (t ? timestampDate(t) : null);
const cut = (s: string, max: number): string => (s.length > max ? s.slice(0, max) : s);

/**
 * A detalles value as a JSON object, secrets removed (pylucy kept plaintext passwords in some): from
 * `detalles_json` when set (what the adoption sends), else from `detalles`.
 */
function detallesObject(v: ImportedTarea['detalles'], text = ''): Record<string, unknown> | null {
  let json: JsonValue;
  if (text) {
    try {
      json = JSON.parse(text) as JsonValue;
    } catch {
      json = text;
    }
    if (json === null) return null;
  } else {
    if (!v || v.kind.case === undefined || v.kind.case === 'nullValue') return null;
    json = toJson(ValueSchema, v);
  }
  const obj = json !== null && typeof json === 'object' && !Array.isArray(json) ? json : { valor: json };
  return redact(obj as Record<string, unknown>);
}

/** A Tarea row as `tracker.tarea` stores it; pending/running become failed (see {@link INTERRUPTED_BY_ADOPTION}). */
export function tareaRecord(t: ImportedTarea, now: Date): Record<string, unknown> {
  const scheduled = date(t.horaProgramada) ?? date(t.horaInicio) ?? now;
  let started = date(t.horaInicio);
  // Synchronous admin actions stamped hora_inicio microseconds before hora_programada (facts §2.7): equal.
  if (started && started < scheduled) started = scheduled;
  const interrupted = !FINISHED.has(t.estado);
  const finished = interrupted ? now : date(t.horaFin);
  const durationMs = started && finished ? Math.max(0, finished.getTime() - started.getTime()) : 0;
  const parametros: Record<string, unknown> = { origen: 'pylucy', id_original: String(t.originalId) };
  if (t.celeryTaskId) parametros.celery_task_id = cut(t.celeryTaskId, 255);
  if (interrupted) parametros.estado_original = t.estado;
  return {
    id: pylucyRowId('tarea', t.originalId),
    tipo: t.tipo ? cut(t.tipo, 30) : null,
    estado: interrupted ? 'failed' : t.estado,
    task_name: TASK_NAME_OF_TIPO[t.tipo] ?? '',
    trigger: 'external',
    requested_by: cut(t.usuario, 150),
    alumno_id: t.alumnoId || null,
    alumno_nombre: t.alumnoNombre ? cut(t.alumnoNombre, 255) : null,
    alumno_dni: t.alumnoDni ? cut(t.alumnoDni, 32) : null,
    scheduled_at: scheduled.toISOString(),
    started_at: started?.toISOString() ?? null,
    finished_at: finished?.toISOString() ?? null,
    duration_ms: durationMs,
    cantidad_entidades: Number(t.cantidadEntidades),
    detalles: detallesObject(t.detalles, t.detallesJson),
    mensaje_error: interrupted
      ? [INTERRUPTED_BY_ADOPTION, t.mensajeError].filter(Boolean).join(': ')
      : t.mensajeError || null,
    attempts: started ? 1 : 0,
    parametros,
    updated_at: now.toISOString(),
  };
}

/** A Log row as `tracker.log` stores it. */
export function logRecord(l: ImportedLog, now: Date): Record<string, unknown> {
  const level = l.tipo.toUpperCase();
  return {
    id: pylucyRowId('log', l.originalId),
    level: LEVELS.has(level) ? level : cut(level || 'INFO', 10),
    module: cut(l.modulo, 100),
    message: l.mensaje,
    detalles: detallesObject(l.detalles, l.detallesJson),
    alumno_id: l.alumnoId || null,
    usuario: l.usuario ? cut(l.usuario, 150) : null,
    occurred_at: (date(l.fecha) ?? now).toISOString(),
  };
}

const TAREA_INSERT = `
  with x as (
    select * from jsonb_to_recordset(?::jsonb) as x(id uuid, tipo text, estado text, task_name text, trigger text,
      requested_by text, alumno_id text, alumno_nombre text, alumno_dni text, scheduled_at timestamptz,
      started_at timestamptz, finished_at timestamptz, duration_ms bigint, cantidad_entidades bigint, detalles jsonb,
      mensaje_error text, attempts int, parametros jsonb, updated_at timestamptz)),
  ins as (
    insert into tracker.tarea (id, tipo, estado, task_name, trigger, requested_by, alumno_id, alumno_nombre,
      alumno_dni, scheduled_at, started_at, started_attempt, finished_at, duration_ms, cantidad_entidades, detalles,
      mensaje_error, attempts, parametros, rank_attempt, command_seen, version, updated_at)
    select id, tipo, estado, task_name, trigger, requested_by, alumno_id, alumno_nombre, alumno_dni, scheduled_at,
      started_at, attempts, finished_at, duration_ms, cantidad_entidades, detalles, mensaje_error, attempts,
      parametros, attempts, true, 1, updated_at
    from x
    on conflict (id) do nothing
    returning scheduled_at, estado),
  cnt as (
    insert into tracker.tarea_hourly_count (hour, estado, count)
    select date_trunc('hour', scheduled_at, 'UTC'), estado, count(*) from ins group by 1, 2
    on conflict (hour, estado) do update set count = tarea_hourly_count.count + excluded.count)
  select count(*)::int as n from ins`;

const LOG_INSERT = `
  with ins as (
    insert into tracker.log (id, level, module, message, detalles, alumno_id, usuario, occurred_at)
    select id, level, module, message, detalles, alumno_id, usuario, occurred_at
    from jsonb_to_recordset(?::jsonb) as x(id uuid, level text, module text, message text, detalles jsonb,
      alumno_id text, usuario text, occurred_at timestamptz)
    on conflict (id) do nothing
    returning 1)
  select count(*)::int as n from ins`;

const distinct = (ids: string[]) => [...new Set(ids)];

async function countExisting(knex: Knex, table: 'tarea' | 'log', ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await knex.raw<{ rows: { n: number }[] }>(
    `select count(*)::int as n from tracker.${table} where id = any(?::uuid[])`,
    [ids],
  );
  return res.rows[0]?.n ?? 0;
}

/** Dependencies of {@link createImportRpc}. */
export interface ImportRpcDeps {
  knex: Knex;
  clock?: () => Date;
}

const IMPORT_BOUNDS: InputBounds = {
  maxChars: {
    mensaje: 1_000_000,
    mensaje_error: 1_000_000,
    detalles_json: 2_000_000,
    alumno_id: 64,
  },
  // detalles strings of pylucy are free text (SIAL error dumps); bounded, but generously.
  defaultMaxChars: 100_000,
  maxItems: IMPORT_BATCH_MAX,
  labels: {
    tareas: 'la lista de tareas',
    logs: 'la lista de logs',
    alumno_id: 'el id del alumno',
    mensaje: 'el mensaje',
    mensaje_error: 'el mensaje de error',
    detalles_json: 'los detalles',
  },
  check(_method, req: Message) {
    const r = req as ImportHistorialRequest;
    const errors: FieldError[] = [];
    r.tareas.forEach((t, i) => {
      if (t.originalId <= 0n)
        errors.push({
          field: `tareas[${i}].original_id`,
          message: 'El id original de la tarea no es válido.',
        });
    });
    r.logs.forEach((l, i) => {
      if (l.originalId <= 0n)
        errors.push({ field: `logs[${i}].original_id`, message: 'El id original del log no es válido.' });
    });
    return errors.slice(0, 20);
  },
};

/**
 * TaskService.ImportHistorial: pylucy's Tareas and Logs written in bulk (one multi-row insert per kind and call,
 * with the dashboard counters in the same statement), not through the live projection. Keyed by the original ids
 * ({@link pylucyRowId}), so a repeated call — a re-run, or a run after one killed midway — inserts nothing twice.
 */
export function createImportRpc(
  deps: ImportRpcDeps,
): Pick<ServiceImpl<typeof TaskService>, 'importHistorial'> {
  const clock = deps.clock ?? (() => new Date());
  const impl: Partial<ServiceImpl<typeof TaskService>> = {
    async importHistorial(req): Promise<MessageInitOf> {
      const now = clock();
      const interrupted = req.tareas.filter((t) => !FINISHED.has(t.estado)).length;
      if (req.dryRun) {
        // A probe (the adoption sends ids only): the ids, not the rows.
        const tareaIds = distinct(req.tareas.map((t) => pylucyRowId('tarea', t.originalId)));
        const logIds = distinct(req.logs.map((l) => pylucyRowId('log', l.originalId)));
        const [te, le] = [
          await countExisting(deps.knex, 'tarea', tareaIds),
          await countExisting(deps.knex, 'log', logIds),
        ];
        return {
          tareasCreadas: BigInt(tareaIds.length - te),
          tareasSinCambios: BigInt(req.tareas.length - (tareaIds.length - te)),
          logsCreados: BigInt(logIds.length - le),
          logsSinCambios: BigInt(req.logs.length - (logIds.length - le)),
          tareasInterrumpidas: BigInt(interrupted),
        };
      }
      const tareas = req.tareas.map((t) => tareaRecord(t, now));
      const logs = req.logs.map((l) => logRecord(l, now));
      let tc = 0;
      let lc = 0;
      try {
        await deps.knex.transaction(async (trx) => {
          // Bulk history, re-runnable by its keys: a crash losing the last commits is redone by the next run, so
          // the commit need not wait for the WAL flush.
          await trx.raw('set local synchronous_commit = off');
          if (tareas.length > 0) {
            const r = await trx.raw<{ rows: { n: number }[] }>(TAREA_INSERT, [JSON.stringify(tareas)]);
            tc = r.rows[0]?.n ?? 0;
          }
          if (logs.length > 0) {
            const r = await trx.raw<{ rows: { n: number }[] }>(LOG_INSERT, [JSON.stringify(logs)]);
            lc = r.rows[0]?.n ?? 0;
          }
        });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && /^22/.test(code))
          throw new ValidationError([
            { field: 'tareas', message: 'Un valor del historial no es válido para guardar.' },
          ]);
        throw err;
      }
      return {
        tareasCreadas: BigInt(tc),
        tareasSinCambios: BigInt(req.tareas.length - tc),
        logsCreados: BigInt(lc),
        logsSinCambios: BigInt(req.logs.length - lc),
        tareasInterrumpidas: BigInt(interrupted),
      };
    },
  };
  return withInputBounds(TaskService, impl as ServiceImpl<typeof TaskService>, IMPORT_BOUNDS);
}
