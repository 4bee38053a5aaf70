import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  errorMessage,
  H,
  isUuid,
  NotFoundError,
  parseContentType,
  PermanentError,
  uuidv7,
  type Buckets,
  type CommandPublisher,
  type FieldError,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import {
  DeadLetterSchema,
  TareaEstado,
  TareaTipo,
  TimelineEntrySchema,
  Trigger,
  type DeadLetter,
  type TareaFilter,
  type TaskService,
} from '@lucy/proto';
import type { Broadcaster } from '../domain/broadcaster.js';
import { MARK_FAILED_MESSAGE, type Estado, type TareaEvent, type TareaState } from '../domain/projection.js';
import { findTarea, pgDate, projectBatch, rowToState, TAREA_SEARCH_TEXT } from '../db/tarea.repository.js';
import { trackerMetrics } from '../metrics.js';
import { assertValid, dateRange, enumName, pageSize, toLogEntry, toTarea } from './mapping.js';
import { createImportRpc } from './import.rpc.js';
import { boundTaskRpc } from './input.js';
import { compileOrder } from './orden.js';

/** Dependencies of {@link createTaskRpc}. */
export interface TaskRpcDeps {
  knex: Knex;
  broadcaster: Broadcaster;
  publisher: CommandPublisher;
  nats: NatsHandles;
  names: Names;
  cancellations: Buckets['cancellations'];
  clock: () => Date;
}

const TIME_ZONE = 'America/Argentina/Cordoba';
// Every column but the stored command payload, which lists never need.
const LIST_COLUMNS = `id, tipo, estado, task_name, trigger, requested_by, alumno_id, alumno_nombre, alumno_dni, subject,
  scheduled_at, started_at, started_attempt, finished_at, duration_ms, cantidad_entidades, detalles, mensaje_error,
  error_code, attempts, parent_id, parametros, null::bytea as payload, content_type, last_heartbeat_at, progress_done,
  progress_total, rank_attempt, rank_phase, command_seen, trace_id, periodic_task`;

interface CompiledFilter {
  where: string[];
  bindings: unknown[];
  matches: (s: TareaState) => boolean;
}

/**
 * The search box ("Buscar (ID, alumno, usuario, error)"), each part served by an index:
 * - a whole UUID (dashed, or 32 hex digits, braces allowed): the Tarea, its sub-tasks and the Tareas of an alumno
 *   with that id (primary key, parent and alumno indexes);
 * - 8 or more hex digits (dashes as in an id): the Tareas whose id ends with them — what the admin shows of an id,
 *   its last 8 or 12 digits (`tarea_id_suffix_idx`) — or starts with them (a range of the primary key), or-ed with
 *   the text search, since "40123456" is also a DNI (fewer digits would bring in unrelated ids: on 5 M Tareas,
 *   about 76 end with any 4 given digits, and a UUIDv7's first 4 are weeks of Tareas);
 * - any text: a substring of the alumno's name or DNI, the requesting user, the error, or the UPN, Moodle user or
 *   pylucy id a command or an imported Tarea names ({@link TAREA_SEARCH_TEXT}, trigram-indexed), or an alumno id
 *   typed whole.
 */
export function searchClause(input: string): { sql: string; bindings: string[] } {
  const q = input.trim();
  const whole = wholeUuid(q);
  if (whole)
    return { sql: '(id = ?::uuid or parent_id = ?::uuid or alumno_id = ?)', bindings: [whole, whole, whole] };
  const like = `%${q.replace(/[%_\\]/g, '\\$&')}%`;
  const text = `alumno_id = ? or ${TAREA_SEARCH_TEXT} ilike ?`;
  if (/^[0-9a-fA-F-]+$/.test(q) && q.replace(/-/g, '').length >= ID_DIGITS) {
    const sql = [`reverse(id::text) like ?`];
    const bindings = [`${[...q.toLowerCase()].reverse().join('')}%`];
    const range = uuidPrefixRange(q);
    if (range) {
      sql.push('id between ?::uuid and ?::uuid');
      bindings.push(range[0], range[1]);
    }
    return { sql: `(${sql.join(' or ')} or ${text})`, bindings: [...bindings, q, like] };
  }
  return { sql: `(${text})`, bindings: [q, like] };
}

/** `q` as a lower-case dashed UUID when it is one whole (dashed, 32 hex digits, or either in braces). */
function wholeUuid(q: string): string | null {
  const bare = /^\{(.*)\}$/.exec(q)?.[1] ?? q;
  if (isUuid(bare)) return bare.toLowerCase();
  if (!/^[0-9a-fA-F]{32}$/.test(bare)) return null;
  const h = bare.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_GROUPS = [8, 4, 4, 4, 12];
/** Hex digits typed before the search looks at ids by their start or end: what the admin shows, at least. */
const ID_DIGITS = 8;

/**
 * The smallest and largest UUID that start with `q` — hex digits, dashes only where a UUID has them — or null
 * when `q` cannot be the start of one or has fewer than 8 digits. A live Tarea's id (UUIDv7) starts with its time,
 * so a prefix of 8 digits matches the Tareas of about a minute; an imported one's (name-based) is random.
 */
export function uuidPrefixRange(q: string): [string, string] | null {
  const s = q.toLowerCase();
  if (!/^[0-9a-f-]+$/.test(s)) return null;
  const groups = s.split('-');
  if (groups.length > UUID_GROUPS.length) return null;
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    // Every group before the last is whole; the last may be partial (or empty, after a trailing dash).
    if (i < groups.length - 1 ? g.length !== UUID_GROUPS[i] : g.length > UUID_GROUPS[i]!) return null;
  }
  const digits = groups.join('');
  if (digits.length < ID_DIGITS) return null;
  const fill = (c: string) =>
    UUID_GROUPS.reduce<{ out: string[]; at: number }>(
      (acc, n) => {
        acc.out.push((digits.slice(acc.at, acc.at + n) + c.repeat(n)).slice(0, n));
        acc.at += n;
        return acc;
      },
      { out: [], at: 0 },
    ).out.join('-');
  return [fill('0'), fill('f')];
}

function compileFilter(
  f: TareaFilter | undefined,
  problems: FieldError[],
  withSearch: boolean,
): CompiledFilter {
  const where: string[] = ['version > 0'];
  const bindings: unknown[] = [];
  const checks: Array<(s: TareaState) => boolean> = [];
  if (!f) return { where, bindings, matches: () => true };
  const { desde, hasta } = dateRange(f.desde, f.hasta, 'filter.', problems);
  const list = (field: string, column: string, values: string[], pick: (s: TareaState) => string | null) => {
    if (!values.length) return;
    // One value as `=`, so an index on (column, scheduled_at) serves the ordered first page directly.
    if (values.length === 1) {
      where.push(`${column} = ?`);
      bindings.push(values[0]!);
    } else {
      where.push(`${column} in (select jsonb_array_elements_text(?::jsonb))`);
      bindings.push(JSON.stringify(values));
    }
    checks.push((s) => values.includes(pick(s) ?? ''));
    void field;
  };
  list(
    'tipos',
    'tipo',
    f.tipos.filter((t) => t !== TareaTipo.UNSPECIFIED).map((t) => enumName(TareaTipo, t)),
    (s) => s.tipo,
  );
  list(
    'estados',
    'estado',
    f.estados.filter((e) => e !== TareaEstado.UNSPECIFIED).map((e) => enumName(TareaEstado, e)),
    (s) => s.estado,
  );
  list(
    'triggers',
    'trigger',
    f.triggers.filter((t) => t !== Trigger.UNSPECIFIED).map((t) => enumName(Trigger, t)),
    (s) => s.trigger,
  );
  const eq = (value: string, column: string, pick: (s: TareaState) => string | null) => {
    if (!value) return;
    where.push(`${column} = ?`);
    bindings.push(value);
    checks.push((s) => pick(s) === value);
  };
  eq(f.alumnoId, 'alumno_id', (s) => s.alumnoId);
  eq(f.requestedBy, 'requested_by', (s) => s.requestedBy);
  eq(f.taskName, 'task_name', (s) => s.taskName);
  if (f.traceId) {
    const traceId = f.traceId.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(traceId) || /^0+$/.test(traceId))
      problems.push({
        field: 'filter.trace_id',
        message: 'El id de traza (filter.trace_id) debe tener 32 dígitos hexadecimales y no ser todo ceros.',
      });
    else eq(traceId, 'trace_id', (s) => s.traceId ?? null);
  }
  if (desde) {
    where.push('scheduled_at >= ?::timestamptz');
    bindings.push(desde.toISOString());
    checks.push((s) => s.scheduledAt >= desde);
  }
  if (hasta) {
    where.push('scheduled_at < ?::timestamptz');
    bindings.push(hasta.toISOString());
    checks.push((s) => s.scheduledAt < hasta);
  }
  const q = f.search.trim();
  if (withSearch && q) {
    const clause = searchClause(q);
    where.push(clause.sql);
    bindings.push(...clause.bindings);
  }
  return { where, bindings, matches: (s) => checks.every((c) => c(s)) };
}

async function loadStates(knex: Knex, sql: string, bindings: unknown[]): Promise<TareaState[]> {
  const res = await knex.raw<{ rows: Record<string, unknown>[] }>(sql, bindings as Knex.RawBinding[]);
  return res.rows.map(rowToState);
}

/** TaskService: reads Tareas, the dashboard, live changes, and acts on Tareas and dead letters. */
export function createTaskRpc(deps: TaskRpcDeps): ServiceImpl<typeof TaskService> {
  // ImportHistorial (adoption of pylucy, rpc/import.rpc.ts) carries its own, larger bounds.
  const bounded = boundTaskRpc(createUnboundedTaskRpc(deps) as ServiceImpl<typeof TaskService>);
  return { ...bounded, ...createImportRpc(deps) };
}

function createUnboundedTaskRpc(deps: TaskRpcDeps): Omit<ServiceImpl<typeof TaskService>, 'importHistorial'> {
  const { knex, broadcaster, publisher, nats, names, cancellations, clock } = deps;

  const mustFind = async (id: string, field = 'id'): Promise<TareaState> => {
    const problems: FieldError[] = [];
    if (!isUuid(id)) problems.push({ field, message: 'El id de la tarea debe ser un UUID' });
    assertValid(problems);
    const s = await findTarea(knex, id);
    if (!s) throw new NotFoundError(`No existe la tarea ${id}`);
    return s;
  };

  const act = async (id: string, event: TareaEvent, allowed: Estado[], what: string): Promise<TareaState> => {
    const changed = await projectBatch(knex, [{ seq: 0, event }], [], {
      now: clock(),
      guard: (before) => {
        const s = before.get(id);
        if (!s) throw new NotFoundError(`No existe la tarea ${id}`);
        if (!allowed.includes(s.estado)) {
          throw new PermanentError(
            `No se puede ${what} una tarea en estado ${s.estado}; solo en estado ${allowed.join(' o ')}.`,
          );
        }
      },
    });
    broadcaster.publish(changed);
    return changed[0] ?? (await mustFind(id));
  };

  return {
    async listTareas(req) {
      const problems: FieldError[] = [];
      const size = pageSize(req.page?.pageSize ?? 0, problems);
      // Sort column and keyset cursor (rpc/orden.ts): the token carries the sort key.
      const order = compileOrder(req.orden, req.oldestFirst, req.page?.pageToken ?? '', problems);
      const f = compileFilter(req.filter, problems, true);
      assertValid(problems);
      if (order.after) {
        f.where.push(order.after.sql);
        f.bindings.push(...order.after.bindings);
      }
      const rows = await loadStates(
        knex,
        `select ${LIST_COLUMNS} from tracker.tarea where ${f.where.join(' and ')}
         order by ${order.orderBy} limit ?`,
        [...f.bindings, size + 1],
      );
      const page = rows.slice(0, size);
      const last = page.at(-1);
      return {
        tareas: page.map(toTarea),
        page: {
          nextPageToken: rows.length > size && last ? order.tokenAfter(last) : '',
          totalEstimate: -1n,
        },
      };
    },

    async getTarea(req) {
      const tarea = await mustFind(req.id);
      const logs = await knex.raw<{ rows: Record<string, unknown>[] }>(
        `select * from tracker.log where task_id = ?::uuid order by occurred_at, id limit 1000`,
        [tarea.id],
      );
      const timeline = await knex.raw<{
        rows: Array<{ kind: string; occurred_at: string; attempt: number; message: string }>;
      }>(
        `select kind, occurred_at, attempt, message from tracker.tarea_event where task_id = ?::uuid order by occurred_at, id`,
        [tarea.id],
      );
      const earlier: TareaState[] = [];
      let parent = tarea.parentId;
      while (parent && earlier.length < 50) {
        const p = await findTarea(knex, parent);
        if (!p) break;
        earlier.push(p);
        parent = p.parentId;
      }
      const later = await loadStates(
        knex,
        `with recursive chain as (
           select id, 1 as depth from tracker.tarea where parent_id = ?::uuid
           union all
           select t.id, c.depth + 1 from tracker.tarea t join chain c on t.parent_id = c.id where c.depth < 50)
         select ${LIST_COLUMNS} from tracker.tarea where id in (select id from chain) order by scheduled_at limit 50`,
        [tarea.id],
      );
      return {
        tarea: toTarea(tarea),
        logs: logs.rows.map(toLogEntry),
        timeline: timeline.rows.map((r) =>
          create(TimelineEntrySchema, {
            kind: r.kind,
            occurredAt: timestampFromDate(pgDate(r.occurred_at)!),
            attempt: r.attempt,
            message: r.message,
          }),
        ),
        earlier: earlier.map(toTarea),
        later: later.map(toTarea),
      };
    },

    async getDashboard(req) {
      const problems: FieldError[] = [];
      if (req.days < 0 || req.days > 90)
        problems.push({ field: 'days', message: 'Los días del gráfico deben estar entre 1 y 90' });
      assertValid(problems);
      const days = req.days || 14;
      const now = clock();
      // Four independent reads, run at once on separate pool connections.
      const [counts, perDay, recientes, deadLetters] = await Promise.all([
        knex.raw<{
          rows: Array<{ pendientes: string; ejecutando: string; completadas: string; fallidas: string }>;
        }>(
          // Current estados from the counters; the 24 h figures by finish time, exactly (now − 24 h, now], with an
          // index-only scan of tarea_finished_idx over that window.
          `select
           (select coalesce(sum(count), 0) from tracker.tarea_hourly_count where estado = 'pending') as pendientes,
           (select coalesce(sum(count), 0) from tracker.tarea_hourly_count where estado = 'running') as ejecutando,
           count(*) filter (where estado = 'completed') as completadas,
           count(*) filter (where estado = 'failed') as fallidas
         from tracker.tarea
         where estado in ('completed', 'failed')
           and finished_at > ?::timestamptz - interval '24 hours' and finished_at <= ?::timestamptz`,
          [now.toISOString(), now.toISOString()],
        ),
        knex.raw<{ rows: Array<{ day: string; estado: string; count: string }> }>(
          `select to_char((hour at time zone '${TIME_ZONE}')::date, 'YYYY-MM-DD') as day, estado, sum(count) as count
         from tracker.tarea_hourly_count
         where hour >= (date_trunc('day', ?::timestamptz at time zone '${TIME_ZONE}') - (? * interval '1 day')) at time zone '${TIME_ZONE}'
         group by 1, 2 having sum(count) > 0 order by 1, 2`,
          [now.toISOString(), days - 1],
        ),
        loadStates(
          knex,
          `select ${LIST_COLUMNS} from tracker.tarea where version > 0 order by scheduled_at desc, id desc limit 10`,
          [],
        ),
        nats.jsm.streams.info(names.streams.dlq).then(
          (i) => BigInt(i.state.messages),
          () => -1n,
        ),
      ]);
      const c = counts.rows[0]!;
      return {
        pendientes: BigInt(c.pendientes),
        ejecutando: BigInt(c.ejecutando),
        completadas24h: BigInt(c.completadas),
        fallidas24h: BigInt(c.fallidas),
        recientes: recientes.map(toTarea),
        porDia: perDay.rows.map((r) => ({
          day: r.day,
          estado: TareaEstado[r.estado.toUpperCase() as keyof typeof TareaEstado] ?? TareaEstado.UNSPECIFIED,
          count: BigInt(r.count),
        })),
        deadLetters,
      };
    },

    async *watchTareas(req, ctx) {
      const problems: FieldError[] = [];
      const f = compileFilter(req.filter, problems, false);
      assertValid(problems);
      const queue: TareaState[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = broadcaster.subscribe((s) => {
        if (!f.matches(s)) return;
        // A slow client loses the oldest changes rather than growing memory without bound.
        if (queue.length > 1000) queue.shift();
        queue.push(s);
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener('abort', onAbort);
      trackerMetrics.watchers.inc();
      try {
        while (!ctx.signal.aborted) {
          const next = queue.shift();
          if (next) {
            yield { tarea: toTarea(next) };
            continue;
          }
          await new Promise<void>((r) => {
            wake = r;
          });
          wake = undefined;
        }
      } finally {
        trackerMetrics.watchers.dec();
        unsubscribe();
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },

    async retryTarea(req) {
      const old = await mustFind(req.id);
      if (old.estado !== 'failed' && old.estado !== 'cancelled') {
        throw new PermanentError(
          `Solo se pueden reintentar tareas fallidas o canceladas; esta está en estado ${old.estado}.`,
        );
      }
      if (!old.payload || !old.subject) {
        throw new PermanentError(
          'La tarea no conserva el comando original (llegó solo por eventos); no se puede reintentar.',
        );
      }
      const requestedBy = req.requestedBy || 'admin';
      const contentType = parseContentType(old.contentType ?? undefined) ?? CONTENT_TYPE.protobuf;
      const taskId = uuidv7(clock().getTime());
      // Published first: if the insert below fails, the command consumer still creates the Tarea.
      await publisher.publishRaw(old.subject, old.payload, contentType, {
        taskType: old.taskName,
        requestedBy,
        trigger: 'retry',
        taskId,
        parentTaskId: old.id,
      });
      const changed = await projectBatch(
        knex,
        [
          {
            seq: 0,
            event: {
              kind: 'published',
              taskId,
              at: clock(),
              tipo: old.tipo,
              subject: old.subject,
              alumnoId: old.alumnoId ?? undefined,
              alumnoNombre: old.alumnoNombre ?? undefined,
              alumnoDni: old.alumnoDni ?? undefined,
              parametros: old.parametros,
              payload: old.payload,
              contentType,
              taskName: old.taskName,
              trigger: 'retry',
              requestedBy,
              parentId: old.id,
            },
          },
        ],
        [],
        { now: clock() },
      );
      broadcaster.publish(changed);
      return { tarea: toTarea(changed[0] ?? (await mustFind(taskId))) };
    },

    async cancelTarea(req) {
      const s = await mustFind(req.id);
      if (s.estado !== 'pending') {
        throw new PermanentError(
          `Solo se pueden cancelar tareas pendientes; esta está en estado ${s.estado}.`,
        );
      }
      const by = req.requestedBy || 'admin';
      // The worker reads this key before starting, so it skips the task even if the row update races it.
      await cancellations.put(s.id, by);
      try {
        const tarea = await act(
          s.id,
          { kind: 'cancelled', taskId: s.id, at: clock(), by },
          ['pending'],
          'cancelar',
        );
        return { tarea: toTarea(tarea) };
      } catch (err) {
        await cancellations.delete(s.id).catch(() => undefined);
        throw err;
      }
    },

    async markFailed(req) {
      await mustFind(req.id);
      const by = req.requestedBy || 'admin';
      const tarea = await act(
        req.id,
        {
          kind: 'marked_failed',
          taskId: req.id,
          at: clock(),
          by,
          mensaje: req.mensaje || MARK_FAILED_MESSAGE,
        },
        ['pending', 'running'],
        'marcar como fallida',
      );
      return { tarea: toTarea(tarea) };
    },

    async listDeadLetters(req) {
      const problems: FieldError[] = [];
      const size = pageSize(req.page?.pageSize ?? 0, problems);
      let start: number | undefined;
      if (req.page?.pageToken) {
        start = /^\d{1,16}$/.test(req.page.pageToken) ? Number(req.page.pageToken) : NaN;
        if (!Number.isSafeInteger(start) || start < 0)
          problems.push({
            field: 'page.pageToken',
            message: 'El token de página no es válido; vuelva a pedir la primera página',
          });
      }
      assertValid(problems);
      const stream = names.streams.dlq;
      const info = await nats.jsm.streams.info(stream);
      const out: DeadLetter[] = [];
      // A token past the end starts at the last message: the scan never walks sequences that do not exist.
      let seq = Math.min(start ?? info.state.last_seq, info.state.last_seq);
      // Bounded scan so a prefix filter over a large DLQ cannot make one call unbounded.
      let budget = size * 20;
      while (seq >= info.state.first_seq && seq > 0 && out.length < size && budget-- > 0) {
        const m = await nats.jsm.streams.getMessage(stream, { seq }).catch(() => null);
        seq--;
        if (!m) continue;
        const dl = toDeadLetter(m.seq, m.header, m.data);
        if (req.subjectPrefix && !dl.originalSubject.startsWith(req.subjectPrefix)) continue;
        out.push(dl);
      }
      const more = seq >= info.state.first_seq && seq > 0;
      return {
        deadLetters: out,
        page: { nextPageToken: more ? String(seq) : '', totalEstimate: BigInt(info.state.messages) },
      };
    },

    async redriveDeadLetters(req) {
      const problems: FieldError[] = [];
      if (req.sequences.length === 0)
        problems.push({ field: 'sequences', message: 'Indique al menos un mensaje para reenviar' });
      if (req.sequences.length > 1000)
        problems.push({ field: 'sequences', message: 'Se pueden reenviar hasta 1000 mensajes por vez' });
      assertValid(problems);
      const stream = names.streams.dlq;
      const results = [];
      for (const seq of req.sequences) {
        try {
          const m = await nats.jsm.streams.getMessage(stream, { seq: Number(seq) });
          if (!m) throw new Error('el mensaje ya no está en la cola de mensajes muertos');
          const original = m.header?.get(H.dlqSubject);
          if (!original) throw new Error('el mensaje no indica su subject original');
          const h = m.header;
          const keys = [...h].map(([k]) => k);
          for (const k of keys) if (k.toLowerCase().startsWith('lucy-dlq-')) h.delete(k);
          if (original.startsWith('lucy.cmd.')) {
            // A re-driven command is a new attempt staff asked for: a new Tarea linked to the failed one, as a retry.
            const parent = h.get(H.taskId);
            h.set(H.taskId, uuidv7(clock().getTime()));
            h.set(H.trigger, 'retry');
            h.set(H.requestedBy, req.requestedBy || 'admin');
            if (parent) h.set(H.parentTaskId, parent);
          }
          await nats.js.publish(names.full(original), m.data, {
            headers: h,
            msgID: `redrive:${stream}:${seq}:${uuidv7()}`,
          });
          await nats.jsm.streams.deleteMessage(stream, Number(seq), false);
          results.push({ sequence: seq, ok: true, error: '' });
        } catch (err) {
          results.push({ sequence: seq, ok: false, error: `No se pudo reenviar: ${errorMessage(err)}` });
        }
      }
      return { results };
    },
  };
}

type StoredHeaders = NonNullable<Awaited<ReturnType<NatsHandles['jsm']['streams']['getMessage']>>>['header'];

function toDeadLetter(seq: number, h: StoredHeaders, data: Uint8Array): DeadLetter {
  const headers: Record<string, string> = {};
  if (h) for (const [k, v] of h) headers[k] = v[0] ?? '';
  const get = (name: string) => h?.get(name) ?? '';
  const at = Date.parse(get(H.dlqAt));
  return create(DeadLetterSchema, {
    sequence: BigInt(seq),
    originalSubject: get(H.dlqSubject),
    reason: get(H.dlqReason),
    consumer: get(H.dlqConsumer),
    deliveries: Number(get(H.dlqDeliveries)) || 0,
    ...(Number.isNaN(at) ? {} : { deadLetteredAt: timestampFromDate(new Date(at)) }),
    headers,
    payload: data,
    contentType: get(H.contentType) || CONTENT_TYPE.protobuf,
    taskId: get(H.taskId),
  });
}
