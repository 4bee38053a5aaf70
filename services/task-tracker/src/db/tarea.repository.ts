import { createHash } from 'node:crypto';
import type { Knex } from '@mikro-orm/postgresql';
import { trackerMetrics } from '../metrics.js';
import {
  applyEvent,
  counterDeltas,
  endingsOf,
  sameTarea,
  attemptLogOf,
  timelineOf,
  type AttemptOutcome,
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
  /** W3C trace id of the event; absent or null when it carried none. */
  traceId?: string | null;
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
  'progress_at',
  'rank_attempt',
  'rank_phase',
  'command_seen',
  'trace_id',
  'periodic_task',
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
    progressAt: date(r.progress_at),
    rankAttempt: num(r.rank_attempt),
    rankPhase: num(r.rank_phase),
    commandSeen: Boolean(r.command_seen),
    traceId: (r.trace_id as string | null | undefined) ?? null,
    periodicTask: (r.periodic_task as string | null | undefined) ?? null,
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
    progress_at: s.progressAt?.toISOString() ?? null,
    rank_attempt: s.rankAttempt,
    rank_phase: s.rankPhase,
    command_seen: s.commandSeen,
    trace_id: s.traceId ?? null,
    periodic_task: s.periodicTask ?? null,
    version: 1,
    updated_at: now,
  };
}

const ids = (values: string[]) => JSON.stringify(values);

/**
 * The text ListTareas searches, indexed by `tarea_busqueda_trgm_idx` (Migration20261208000000_search_narrow); the
 * two must stay identical for the planner to use the index.
 */
export const TAREA_SEARCH_TEXT = `(
        coalesce(alumno_nombre, '') || ' ' || coalesce(alumno_dni, '') || ' ' || requested_by || ' ' ||
        coalesce(mensaje_error, '') || ' ' || coalesce(parametros->>'upn', '') || ' ' ||
        coalesce(parametros->>'moodleUsername', '') || ' ' || coalesce(parametros->>'id_original', '')
      )`;

const UPSERT_SET = TAREA_COLUMNS.filter((c) => c !== 'id')
  .map((c) => `${c} = excluded.${c}`)
  .join(', ');
// A Tarea that knows its alumno but not the name takes it from alumno_ref in the same statement.
const UPSERT_SELECT = TAREA_COLUMNS.map((c) =>
  c === 'alumno_nombre'
    ? `coalesce(x.alumno_nombre, nullif(r.nombre, '')) as alumno_nombre`
    : c === 'alumno_dni'
      ? `coalesce(x.alumno_dni, nullif(r.dni, '')) as alumno_dni`
      : `x.${c}`,
).join(', ');
/** A UUID (version 8, name-based) derived from `name` with SHA-256: the same name always gives the same id. */
export function stableUuid(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const LOG_INSERT = `insert into tracker.log (id, level, module, message, detalles, alumno_id, usuario, task_id, occurred_at, trace_id)
  select id, level, module, message, detalles, alumno_id, usuario, task_id, occurred_at, trace_id
  from jsonb_to_recordset(?::jsonb) as x(id uuid, level text, module text, message text, detalles jsonb,
    alumno_id text, usuario text, task_id uuid, occurred_at timestamptz, trace_id text)
  on conflict (id) do nothing`;

/** Options of {@link projectBatch}. */
export interface ProjectBatchOptions {
  /** Checks the locked rows before any change; throwing rolls the transaction back. */
  guard?: ProjectionGuard;
  /** Transaction time (`updated_at`); default now. */
  now?: Date;
  /** Log rows derived from the Tareas that changed, written in the same transaction (the stuck sweep's WARNINGs). */
  logsFor?: (changed: readonly TareaState[]) => LogInsert[];
  /**
   * Server-side limit of each statement, ms; default 15 000. A transaction stuck on a lock or a slow disk is
   * cancelled by Postgres itself and rolled back, so nothing of it is applied after its consumer gave up on it.
   */
  statementTimeoutMs?: number;
}

/**
 * Projects facts and Log rows in one transaction of two statements, whatever the batch size: one locks (or
 * creates) the Tareas concerned in id order and returns them; the facts are folded in memory with the pure
 * rules; one statement then upserts the changed rows, appends the timeline (deduplicated by its unique key),
 * adjusts the hourly counters by the difference between the states before and after, and inserts the Log rows.
 * Returns the Tareas that changed.
 */
export async function projectBatch(
  knex: Knex,
  facts: readonly TareaFact[],
  logs: readonly LogInsert[] = [],
  options: ProjectBatchOptions = {},
): Promise<TareaState[]> {
  const now = (options.now ?? new Date()).toISOString();
  const statementTimeout = Math.max(1, Math.floor(options.statementTimeoutMs ?? 15_000));
  // What the batch ended (attempts, Tareas), counted once it is committed.
  let endings: Array<{ tipo: string; attempt?: AttemptOutcome; tarea?: Estado }> = [];
  const committed = await knex.transaction(async (trx) => {
    endings = [];
    await trx.raw(`set local statement_timeout = ${statementTimeout}`);
    const taskIds = [...new Set(facts.map((f) => f.event.taskId))].sort();
    const before = new Map<string, TareaState | undefined>();
    if (taskIds.length > 0) {
      // Inserting a placeholder for each unknown id, and a no-op update of each known one, locks every row in
      // id order and returns it in one round trip. Concurrent batches (another consumer, another replica) then
      // wait on the same rows instead of both inserting a "new" Tarea; id order rules out deadlocks.
      const locked = await trx.raw<{ rows: Record<string, unknown>[] }>(
        `insert into tracker.tarea (id, scheduled_at, version)
         select x::uuid, now(), 0 from jsonb_array_elements_text(?::jsonb) as x order by 1
         on conflict (id) do update set version = tracker.tarea.version
         returning *`,
        [ids(taskIds)],
      );
      for (const r of locked.rows)
        before.set(String(r.id), Number(r.version) === 0 ? undefined : rowToState(r));
    }
    options.guard?.(before);

    const after = new Map<string, TareaState | undefined>(before);
    const timeline: Record<string, unknown>[] = [];
    const attemptLogs: LogInsert[] = [];
    for (const { event, seq } of facts) {
      const prev = after.get(event.taskId);
      const next = applyEvent(prev, event);
      after.set(event.taskId, next);
      const ended = endingsOf(prev, next);
      if (ended.attempt || ended.tarea) endings.push({ tipo: next.tipo ?? '', ...ended });
      const attemptLog = attemptLogOf(event);
      if (attemptLog && (event.kind === 'failed' || event.kind === 'skipped')) {
        const tarea = after.get(event.taskId);
        attemptLogs.push({
          ...attemptLog,
          // One row per attempt's outcome, however often its event is delivered.
          id: stableUuid(
            event.kind === 'skipped'
              ? `${event.taskId}/skipped/${event.attempt}`
              : `${event.taskId}/failed/${event.attempt}/${event.willRetry ? 'retry' : 'final'}`,
          ),
          alumnoId: tarea?.alumnoId ?? null,
          usuario: tarea?.requestedBy || null,
          taskId: event.taskId,
          occurredAt: event.at,
          traceId: event.traceId ?? tarea?.traceId ?? null,
        });
      }
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
    const counterRows = [...deltas.entries()]
      .filter(([, d]) => d !== 0)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, count]) => {
        const [hour, estado] = key.split('|');
        return { hour, estado, count };
      });
    const allLogs = [...logs, ...attemptLogs, ...(options.logsFor?.(changed) ?? [])];

    // Every write of the batch in one statement (data-modifying CTEs all run to completion), to keep the
    // transaction — and the time its row locks are held — to four round trips.
    const ctes: string[] = [];
    const bindings: Knex.RawBinding[] = [];
    if (changed.length > 0) {
      ctes.push(`up as (
        insert into tracker.tarea (${TAREA_COLUMNS.join(', ')})
        select ${UPSERT_SELECT}
        from jsonb_populate_recordset(null::tracker.tarea, ?::jsonb) as x
        left join tracker.alumno_ref r on x.alumno_nombre is null and r.id = x.alumno_id
        on conflict (id) do update set ${UPSERT_SET}
        returning id, alumno_nombre, alumno_dni)`);
      bindings.push(JSON.stringify(changed.map((s) => stateToRecord(s, now))));
    }
    if (timeline.length > 0) {
      ctes.push(`ev as (
        insert into tracker.tarea_event (task_id, kind, attempt, seq, occurred_at, message)
        select task_id, kind, attempt, seq, occurred_at, message
        from jsonb_to_recordset(?::jsonb) as x(task_id uuid, kind text, attempt int, seq bigint, occurred_at timestamptz, message text)
        on conflict on constraint tarea_event_once do nothing)`);
      bindings.push(JSON.stringify(timeline));
    }
    if (counterRows.length > 0) {
      ctes.push(`cnt as (
        insert into tracker.tarea_hourly_count (hour, estado, count)
        select hour, estado, count from jsonb_to_recordset(?::jsonb) as x(hour timestamptz, estado text, count bigint)
        on conflict (hour, estado) do update set count = tarea_hourly_count.count + excluded.count)`);
      bindings.push(JSON.stringify(counterRows));
    }
    if (allLogs.length > 0) {
      ctes.push(`lg as (${LOG_INSERT})`);
      bindings.push(logsJson(allLogs));
    }
    if (ctes.length > 0) {
      const res = await trx.raw<{
        rows: Array<{ id: string; alumno_nombre: string | null; alumno_dni: string | null }>;
      }>(
        `with ${ctes.join(',\n')}
         ${changed.length > 0 ? 'select id, alumno_nombre, alumno_dni from up where alumno_nombre is not null' : 'select 1 where false'}`,
        bindings,
      );
      const names = new Map(res.rows.map((r) => [String(r.id), r]));
      for (const [i, s] of changed.entries()) {
        const n = names.get(s.id);
        if (n && !s.alumnoNombre)
          changed[i] = { ...s, alumnoNombre: n.alumno_nombre, alumnoDni: n.alumno_dni };
      }
    }
    return changed;
  });
  for (const e of endings) {
    if (e.attempt) trackerMetrics.attemptsEnded.inc({ tipo: e.tipo, outcome: e.attempt });
    if (e.tarea) trackerMetrics.tareasEnded.inc({ tipo: e.tipo, estado: e.tarea });
  }
  return committed;
}

/** Alumno reference from an alumno event. */
export interface AlumnoRef {
  id: string;
  nombre: string;
  dni: string;
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

function logsJson(logs: readonly LogInsert[]): string {
  return JSON.stringify(
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
      trace_id: l.traceId ?? null,
    })),
  );
}

/** Inserts Log rows, ignoring ids already stored. */
export async function insertLogs(knex: Knex, logs: readonly LogInsert[]): Promise<void> {
  if (logs.length === 0) return;
  await knex.raw(LOG_INSERT, [logsJson(logs)]);
}

/** Loads one Tarea, or undefined. */
export async function findTarea(knex: Knex, id: string): Promise<TareaState | undefined> {
  const res = await knex.raw<{ rows: Record<string, unknown>[] }>(
    `select * from tracker.tarea where id = ?::uuid and version > 0`,
    [id],
  );
  return res.rows[0] ? rowToState(res.rows[0]) : undefined;
}

/** Loads several Tareas by id (those that exist). */
export async function findTareas(knex: Knex, ids: readonly string[]): Promise<TareaState[]> {
  if (ids.length === 0) return [];
  const res = await knex.raw<{ rows: Record<string, unknown>[] }>(
    `select * from tracker.tarea where id = any(?::uuid[]) and version > 0`,
    [`{${ids.join(',')}}`],
  );
  return res.rows.map(rowToState);
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
