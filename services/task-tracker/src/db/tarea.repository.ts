import type { Knex } from '@mikro-orm/postgresql';
import {
  applyEvent,
  counterDeltas,
  sameTarea,
  timelineOf,
  type Estado,
  type TareaEvent,
  type TareaState,
} from '../domain/projection.js';

/** One fact to project, with the stream sequence that identifies repeated progress reports. */
export interface TareaFact {
  event: TareaEvent;
  /** Stream sequence of the message; used only to tell progress reports apart in the timeline. */
  seq: number;
}

/** One Log row to insert (idempotent by id). */
export interface LogInsert {
  id: string;
  level: string;
  module: string;
  message: string;
  detalles: unknown;
  alumnoId: string | null;
  usuario: string | null;
  taskId: string | null;
  occurredAt: Date;
}

/** Thrown by a guard to refuse a change (the transaction is rolled back). */
export type ProjectionGuard = (before: ReadonlyMap<string, TareaState | undefined>) => void;

const TAREA_COLUMNS = [
  'id',
  'tipo',
  'estado',
  'task_name',
  'trigger',
  'requested_by',
  'alumno_id',
  'alumno_nombre',
  'alumno_dni',
  'subject',
  'scheduled_at',
  'started_at',
  'started_attempt',
  'finished_at',
  'duration_ms',
  'cantidad_entidades',
  'detalles',
  'mensaje_error',
  'error_code',
  'attempts',
  'parent_id',
  'parametros',
  'payload',
  'content_type',
  'last_heartbeat_at',
  'progress_done',
  'progress_total',
  'rank_attempt',
  'rank_phase',
  'command_seen',
  'version',
  'updated_at',
] as const;

/**
 * A timestamptz as returned through MikroORM's pool (a string such as `2026-11-28 20:44:04.171+00`, since the
 * ORM disables pg's date parsing) or a Date.
 */
export function pgDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  const text = typeof v === 'string' ? v : '';
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::?(\d{2}))?$/.exec(text);
  return m ? new Date(`${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`) : new Date(text);
}

/** A text column, or the fallback when null. */
export const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

/** Maps a `tracker.tarea` row (snake_case, as pg returns it) to the domain state. */
export function rowToState(r: Record<string, unknown>): TareaState {
  const date = pgDate;
  const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
  return {
    id: String(r.id),
    tipo: (r.tipo as string | null) ?? null,
    estado: r.estado as Estado,
    taskName: str(r.task_name),
    trigger: str(r.trigger, 'external'),
    requestedBy: str(r.requested_by),
    alumnoId: (r.alumno_id as string | null) ?? null,
    alumnoNombre: (r.alumno_nombre as string | null) ?? null,
    alumnoDni: (r.alumno_dni as string | null) ?? null,
    subject: (r.subject as string | null) ?? null,
    scheduledAt: date(r.scheduled_at)!,
    startedAt: date(r.started_at),
    startedAttempt: num(r.started_attempt),
    finishedAt: date(r.finished_at),
    durationMs: num(r.duration_ms),
    cantidadEntidades: num(r.cantidad_entidades),
    detalles: (r.detalles as Record<string, unknown> | null) ?? null,
    mensajeError: (r.mensaje_error as string | null) ?? null,
    errorCode: (r.error_code as string | null) ?? null,
    attempts: num(r.attempts),
    parentId: (r.parent_id as string | null) ?? null,
    parametros: (r.parametros as Record<string, unknown> | null) ?? null,
    payload: r.payload ? new Uint8Array(r.payload as Buffer) : null,
    contentType: (r.content_type as string | null) ?? null,
    lastHeartbeatAt: date(r.last_heartbeat_at),
    progressDone: num(r.progress_done),
    progressTotal: num(r.progress_total),
    rankAttempt: num(r.rank_attempt),
    rankPhase: num(r.rank_phase),
    commandSeen: Boolean(r.command_seen),
  };
}

function stateToRecord(s: TareaState, now: string): Record<string, unknown> {
  return {
    id: s.id,
    tipo: s.tipo,
    estado: s.estado,
    task_name: s.taskName,
    trigger: s.trigger,
    requested_by: s.requestedBy,
    alumno_id: s.alumnoId,
    alumno_nombre: s.alumnoNombre,
    alumno_dni: s.alumnoDni,
    subject: s.subject,
    scheduled_at: s.scheduledAt.toISOString(),
    started_at: s.startedAt?.toISOString() ?? null,
    started_attempt: s.startedAttempt,
    finished_at: s.finishedAt?.toISOString() ?? null,
    duration_ms: s.durationMs,
    cantidad_entidades: s.cantidadEntidades,
    detalles: s.detalles,
    mensaje_error: s.mensajeError,
    error_code: s.errorCode,
    attempts: s.attempts,
    parent_id: s.parentId,
    parametros: s.parametros,
    // bytea text input (hex form), read by jsonb_populate_recordset.
    payload: s.payload ? `\\x${Buffer.from(s.payload).toString('hex')}` : null,
    content_type: s.contentType,
    last_heartbeat_at: s.lastHeartbeatAt?.toISOString() ?? null,
    progress_done: s.progressDone,
    progress_total: s.progressTotal,
    rank_attempt: s.rankAttempt,
    rank_phase: s.rankPhase,
    command_seen: s.commandSeen,
    version: 1,
    updated_at: now,
  };
}

const ids = (values: string[]) => JSON.stringify(values);

/**
 * Projects facts and Log rows in one transaction with a handful of set-based statements, whatever the batch
 * size: lock (or create) the Tareas concerned in id order, fold the facts in memory with the pure rules,
 * upsert the changed rows, append the timeline (deduplicated by its unique key) and adjust the hourly
 * counters by the difference between the states before and after. Returns the Tareas that changed.
 */
export async function projectBatch(
  knex: Knex,
  facts: readonly TareaFact[],
  logs: readonly LogInsert[] = [],
  options: { guard?: ProjectionGuard; now?: Date } = {},
): Promise<TareaState[]> {
  const now = (options.now ?? new Date()).toISOString();
  return knex.transaction(async (trx) => {
    const taskIds = [...new Set(facts.map((f) => f.event.taskId))].sort();
    const before = new Map<string, TareaState | undefined>();
    if (taskIds.length > 0) {
      // A placeholder per unknown id makes concurrent batches (another consumer, another replica) wait on
      // the same row instead of both inserting a "new" Tarea.
      await trx.raw(
        `insert into tracker.tarea (id, scheduled_at, version)
         select x::uuid, now(), 0 from jsonb_array_elements_text(?::jsonb) as x order by 1
         on conflict (id) do nothing`,
        [ids(taskIds)],
      );
      const locked = await trx.raw<{ rows: Record<string, unknown>[] }>(
        `select * from tracker.tarea where id in (select x::uuid from jsonb_array_elements_text(?::jsonb) as x)
         order by id for update`,
        [ids(taskIds)],
      );
      for (const r of locked.rows)
        before.set(String(r.id), Number(r.version) === 0 ? undefined : rowToState(r));
    }
    options.guard?.(before);

    const after = new Map<string, TareaState | undefined>(before);
    const timeline: Record<string, unknown>[] = [];
    for (const { event, seq } of facts) {
      after.set(event.taskId, applyEvent(after.get(event.taskId), event));
      const entry = timelineOf(event);
      if (entry) {
        timeline.push({
          task_id: event.taskId,
          kind: entry.kind,
          attempt: entry.attempt,
          seq: entry.kind === 'progress' ? seq : 0,
          occurred_at: event.at.toISOString(),
          message: entry.message,
        });
      }
    }

    await fillAlumnoNames(trx, after);

    const changed: TareaState[] = [];
    const deltas = new Map<string, number>();
    for (const id of taskIds) {
      const a = after.get(id)!;
      const b = before.get(id);
      if (sameTarea(b, a)) continue;
      changed.push(a);
      for (const d of counterDeltas(b, a)) {
        const key = `${d.hour}|${d.estado}`;
        deltas.set(key, (deltas.get(key) ?? 0) + d.delta);
      }
    }

    if (changed.length > 0) {
      const set = TAREA_COLUMNS.filter((c) => c !== 'id')
        .map((c) => `${c} = excluded.${c}`)
        .join(', ');
      await trx.raw(
        `insert into tracker.tarea (${TAREA_COLUMNS.join(', ')})
         select ${TAREA_COLUMNS.join(', ')} from jsonb_populate_recordset(null::tracker.tarea, ?::jsonb)
         on conflict (id) do update set ${set}`,
        [JSON.stringify(changed.map((s) => stateToRecord(s, now)))],
      );
    }
    if (timeline.length > 0) {
      await trx.raw(
        `insert into tracker.tarea_event (task_id, kind, attempt, seq, occurred_at, message)
         select task_id, kind, attempt, seq, occurred_at, message
         from jsonb_to_recordset(?::jsonb) as x(task_id uuid, kind text, attempt int, seq bigint, occurred_at timestamptz, message text)
         on conflict on constraint tarea_event_once do nothing`,
        [JSON.stringify(timeline)],
      );
    }
    const counterRows = [...deltas.entries()]
      .filter(([, d]) => d !== 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => {
        const [hour, estado] = key.split('|');
        return { hour, estado, count };
      });
    if (counterRows.length > 0) {
      await trx.raw(
        `insert into tracker.tarea_hourly_count (hour, estado, count)
         select hour, estado, count from jsonb_to_recordset(?::jsonb) as x(hour timestamptz, estado text, count bigint)
         on conflict (hour, estado) do update set count = tarea_hourly_count.count + excluded.count`,
        [JSON.stringify(counterRows)],
      );
    }
    if (logs.length > 0) {
      await insertLogs(trx, logs);
    }
    return changed;
  });
}

/** Alumno reference from an alumno event. */
export interface AlumnoRef {
  id: string;
  nombre: string;
  dni: string;
}

async function fillAlumnoNames(trx: Knex, states: Map<string, TareaState | undefined>): Promise<void> {
  const missing = [...states.values()].filter((s): s is TareaState => !!s?.alumnoId && !s.alumnoNombre);
  if (missing.length === 0) return;
  const res = await trx.raw<{ rows: AlumnoRef[] }>(
    `select id, nombre, dni from tracker.alumno_ref where id in (select jsonb_array_elements_text(?::jsonb))`,
    [JSON.stringify([...new Set(missing.map((s) => s.alumnoId))])],
  );
  const byId = new Map(res.rows.map((r) => [r.id, r]));
  for (const s of missing) {
    const r = byId.get(s.alumnoId!);
    if (r)
      states.set(s.id, { ...s, alumnoNombre: r.nombre || null, alumnoDni: s.alumnoDni ?? (r.dni || null) });
  }
}

/**
 * Stores alumno names and DNIs from alumno events and fills them into the Tareas of those alumnos that lack them
 * (the name "at the time": an existing one is not overwritten).
 */
export async function upsertAlumnos(knex: Knex, alumnos: readonly AlumnoRef[]): Promise<void> {
  const latest = [...new Map(alumnos.map((a) => [a.id, a])).values()].sort((a, b) =>
    a.id.localeCompare(b.id),
  );
  if (latest.length === 0) return;
  const json = JSON.stringify(latest);
  await knex.transaction(async (trx) => {
    await trx.raw(
      `insert into tracker.alumno_ref (id, nombre, dni, updated_at)
       select id, nombre, dni, now() from jsonb_to_recordset(?::jsonb) as x(id text, nombre text, dni text)
       on conflict (id) do update set nombre = excluded.nombre, dni = excluded.dni, updated_at = now()`,
      [json],
    );
    await trx.raw(
      `update tracker.tarea t set alumno_nombre = coalesce(t.alumno_nombre, nullif(x.nombre, '')),
              alumno_dni = coalesce(t.alumno_dni, nullif(x.dni, ''))
       from jsonb_to_recordset(?::jsonb) as x(id text, nombre text, dni text)
       where t.alumno_id = x.id and (t.alumno_nombre is null or t.alumno_dni is null)`,
      [json],
    );
  });
}

/** Inserts Log rows, ignoring ids already stored. */
export async function insertLogs(knex: Knex, logs: readonly LogInsert[]): Promise<void> {
  await knex.raw(
    `insert into tracker.log (id, level, module, message, detalles, alumno_id, usuario, task_id, occurred_at)
     select id, level, module, message, detalles, alumno_id, usuario, task_id, occurred_at
     from jsonb_to_recordset(?::jsonb) as x(id uuid, level text, module text, message text, detalles jsonb,
       alumno_id text, usuario text, task_id uuid, occurred_at timestamptz)
     on conflict (id) do nothing`,
    [
      JSON.stringify(
        logs.map((l) => ({
          id: l.id,
          level: l.level,
          module: l.module,
          message: l.message,
          detalles: l.detalles ?? null,
          alumno_id: l.alumnoId,
          usuario: l.usuario,
          task_id: l.taskId,
          occurred_at: l.occurredAt.toISOString(),
        })),
      ),
    ],
  );
}

/** Loads one Tarea, or undefined. */
export async function findTarea(knex: Knex, id: string): Promise<TareaState | undefined> {
  const res = await knex.raw<{ rows: Record<string, unknown>[] }>(
    `select * from tracker.tarea where id = ?::uuid and version > 0`,
    [id],
  );
  return res.rows[0] ? rowToState(res.rows[0]) : undefined;
}

/** Ids of running Tareas whose last sign of life is older than `cutoff` (the stuck sweep's candidates). */
export async function findStuck(knex: Knex, cutoff: Date, limit = 500): Promise<string[]> {
  const res = await knex.raw<{ rows: Array<{ id: string }> }>(
    `select id from tracker.tarea
     where estado = 'running' and coalesce(last_heartbeat_at, started_at, scheduled_at) < ?::timestamptz
     order by id limit ?`,
    [cutoff.toISOString(), limit],
  );
  return res.rows.map((r) => r.id);
}

/**
 * Deletes Tareas (with their timeline, and their counters) and Logs older than `cutoff`, `batchSize` rows per
 * statement so no statement holds locks for long. `between` runs after each batch (e.g. `working()`).
 */
export async function purgeOlderThan(
  knex: Knex,
  cutoff: Date,
  batchSize: number,
  between: () => void = () => undefined,
): Promise<{ tareas: number; logs: number }> {
  let tareas = 0;
  let logs = 0;
  for (;;) {
    const res = await knex.raw<{ rows: Array<{ n: string }> }>(
      `with del as (
         delete from tracker.tarea where id in (
           select id from tracker.tarea where scheduled_at < ?::timestamptz and version > 0 limit ?)
         returning scheduled_at, estado),
       agg as (select date_trunc('hour', scheduled_at) as hour, estado, count(*) as c from del group by 1, 2),
       upd as (update tracker.tarea_hourly_count t set count = t.count - agg.c from agg
               where t.hour = agg.hour and t.estado = agg.estado returning 1)
       select (select count(*) from del) as n, (select count(*) from upd) as u`,
      [cutoff.toISOString(), batchSize],
    );
    const n = Number(res.rows[0]?.n ?? 0);
    tareas += n;
    between();
    if (n < batchSize) break;
  }
  for (;;) {
    const res = await knex.raw<{ rowCount: number }>(
      `delete from tracker.log where id in (select id from tracker.log where occurred_at < ?::timestamptz limit ?)`,
      [cutoff.toISOString(), batchSize],
    );
    logs += res.rowCount;
    between();
    if (res.rowCount < batchSize) break;
  }
  await knex.raw(`delete from tracker.tarea_hourly_count where count = 0 and hour < ?::timestamptz`, [
    cutoff.toISOString(),
  ]);
  return { tareas, logs };
}
