import type { Knex } from '@mikro-orm/postgresql';
import { uuidv7 } from '@lucy/platform';
import type { MissedRunMode, PeriodicTask, Schedule, ScheduleKind } from '../domain/index.js';

/** A periodic task as stored, in domain shape, plus the columns only the admin shows. */
export interface PeriodicTaskRecord extends PeriodicTask {
  description: string;
  dateChanged: Date;
  /** Id of its schedule row (in the table of `schedule.kind`). */
  scheduleId: string;
}

/** A stored schedule of any kind, with its id. */
export type StoredSchedule = Schedule & { id: string };

/** Columns a create or update of a periodic task writes. */
export interface PeriodicTaskValues {
  name: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  enabled: boolean;
  oneOff: boolean;
  startTime: Date | null;
  expires: Date | null;
  description: string;
  scheduleKind: ScheduleKind;
  scheduleId: string;
  missedRunPolicy: MissedRunMode;
  missedRunCap: number;
}

/** Filters of {@link SchedulerRepository.listTasks}. */
export interface TaskFilter {
  enabled?: boolean | undefined;
  task?: string | undefined;
  search?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a UUID (so it can be compared with a uuid column without a cast error). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

const TASK_SELECT = `
  select pt.id, pt.name, pt.task, pt.args, pt.kwargs, pt.enabled, pt.one_off, pt.start_time, pt.expires,
         pt.description, pt.last_run_at, pt.total_run_count, pt.date_changed, pt.interval_id, pt.crontab_id,
         pt.solar_id, pt.clocked_id, pt.missed_run_policy, pt.missed_run_cap, pt.created_at,
         i.every, i.period, c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, c.timezone,
         s.event, s.latitude, s.longitude, k.clocked_time
    from scheduler.periodic_task pt
    left join scheduler.interval_schedule i on i.id = pt.interval_id
    left join scheduler.crontab_schedule c on c.id = pt.crontab_id
    left join scheduler.solar_schedule s on s.id = pt.solar_id
    left join scheduler.clocked_schedule k on k.id = pt.clocked_id`;

interface TaskJoinRow {
  id: string;
  name: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  enabled: boolean;
  one_off: boolean;
  start_time: Date | null;
  expires: Date | null;
  description: string;
  last_run_at: Date | null;
  total_run_count: string;
  date_changed: Date;
  interval_id: string | null;
  crontab_id: string | null;
  solar_id: string | null;
  clocked_id: string | null;
  missed_run_policy: MissedRunMode;
  missed_run_cap: number;
  created_at: Date;
  every: string | null;
  period: string | null;
  minute: string | null;
  hour: string | null;
  day_of_week: string | null;
  day_of_month: string | null;
  month_of_year: string | null;
  timezone: string | null;
  event: string | null;
  latitude: number | null;
  longitude: number | null;
  clocked_time: Date | null;
}

/** The ORM's pg driver returns timestamptz as text; the domain wants Date. */
function dateOrNull(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  return typeof v === 'string' || typeof v === 'number' ? new Date(v) : null;
}

function scheduleOf(r: TaskJoinRow): { schedule: Schedule; id: string } {
  if (r.interval_id) {
    return {
      id: r.interval_id,
      schedule: { kind: 'interval', every: Number(r.every), period: r.period as never },
    };
  }
  if (r.crontab_id) {
    return {
      id: r.crontab_id,
      schedule: {
        kind: 'crontab',
        minute: r.minute ?? '*',
        hour: r.hour ?? '*',
        dayOfWeek: r.day_of_week ?? '*',
        dayOfMonth: r.day_of_month ?? '*',
        monthOfYear: r.month_of_year ?? '*',
        timezone: r.timezone ?? 'America/Argentina/Cordoba',
      },
    };
  }
  if (r.solar_id) {
    return {
      id: r.solar_id,
      schedule: {
        kind: 'solar',
        event: r.event as never,
        latitude: Number(r.latitude),
        longitude: Number(r.longitude),
      },
    };
  }
  return {
    id: r.clocked_id ?? '',
    schedule: { kind: 'clocked', clockedTime: dateOrNull(r.clocked_time) ?? new Date(0) },
  };
}

function toRecord(r: TaskJoinRow): PeriodicTaskRecord {
  const { schedule, id } = scheduleOf(r);
  return {
    id: r.id,
    name: r.name,
    task: r.task,
    schedule,
    scheduleId: id,
    args: r.args,
    kwargs: r.kwargs,
    enabled: r.enabled,
    oneOff: r.one_off,
    startTime: dateOrNull(r.start_time),
    expires: dateOrNull(r.expires),
    description: r.description,
    lastRunAt: dateOrNull(r.last_run_at),
    totalRunCount: Number(r.total_run_count),
    dateChanged: dateOrNull(r.date_changed)!,
    createdAt: dateOrNull(r.created_at)!,
    missedRunPolicy: { mode: r.missed_run_policy, cap: r.missed_run_cap },
  };
}

const TABLE: Record<ScheduleKind, string> = {
  interval: 'scheduler.interval_schedule',
  crontab: 'scheduler.crontab_schedule',
  solar: 'scheduler.solar_schedule',
  clocked: 'scheduler.clocked_schedule',
};

function scheduleColumns(s: Schedule): Record<string, unknown> {
  switch (s.kind) {
    case 'interval':
      return { every: s.every, period: s.period };
    case 'crontab':
      return {
        minute: s.minute,
        hour: s.hour,
        day_of_week: s.dayOfWeek,
        day_of_month: s.dayOfMonth,
        month_of_year: s.monthOfYear,
        timezone: s.timezone,
      };
    case 'solar':
      return { event: s.event, latitude: s.latitude, longitude: s.longitude };
    case 'clocked':
      return { clocked_time: s.clockedTime };
  }
}

function scheduleFromRow(kind: ScheduleKind, r: Record<string, unknown>): StoredSchedule {
  const id = String(r.id);
  switch (kind) {
    case 'interval':
      return { id, kind, every: Number(r.every), period: r.period as never };
    case 'crontab':
      return {
        id,
        kind,
        minute: String(r.minute),
        hour: String(r.hour),
        dayOfWeek: String(r.day_of_week),
        dayOfMonth: String(r.day_of_month),
        monthOfYear: String(r.month_of_year),
        timezone: String(r.timezone),
      };
    case 'solar':
      return {
        id,
        kind,
        event: r.event as never,
        latitude: Number(r.latitude),
        longitude: Number(r.longitude),
      };
    case 'clocked':
      return { id, kind, clockedTime: dateOrNull(r.clocked_time)! };
  }
}

const KINDS: readonly ScheduleKind[] = ['interval', 'crontab', 'solar', 'clocked'];

function taskColumns(v: PeriodicTaskValues, now: Date): Record<string, unknown> {
  return {
    name: v.name,
    task: v.task,
    args: JSON.stringify(v.args),
    kwargs: JSON.stringify(v.kwargs),
    enabled: v.enabled,
    one_off: v.oneOff,
    start_time: v.startTime,
    expires: v.expires,
    description: v.description,
    interval_id: v.scheduleKind === 'interval' ? v.scheduleId : null,
    crontab_id: v.scheduleKind === 'crontab' ? v.scheduleId : null,
    solar_id: v.scheduleKind === 'solar' ? v.scheduleId : null,
    clocked_id: v.scheduleKind === 'clocked' ? v.scheduleId : null,
    missed_run_policy: v.missedRunPolicy,
    missed_run_cap: v.missedRunCap,
    date_changed: now,
  };
}

/** One slot to claim with {@link SchedulerRepository.claimSlots}. */
export interface SlotClaim {
  periodicTaskId: string;
  dueAt: Date;
  /** Task id to publish with if the slot is claimed for the first time. */
  taskId: string;
}

/** One published slot to confirm with {@link SchedulerRepository.confirmSlots}. */
export interface SlotConfirmation {
  periodicTaskId: string;
  dueAt: Date;
  /** One-off or clocked: disable the task. */
  disable: boolean;
}

/** A claimed slot neither confirmed nor recorded as missed (its leader died, or it is being fired now). */
export interface UnresolvedSlot {
  periodicTaskId: string;
  dueAt: Date;
}

/** Why a claimed slot was not republished (see {@link SchedulerRepository.markMissed}). */
export type MissedSlotDecision = 'skipped' | 'coalesced' | 'capped' | 'disabled' | 'rescheduled';

/** Map key of a slot in {@link SchedulerRepository.claimSlots}' answer: `<periodic task id>@<epoch ms>`. */
export function slotRef(periodicTaskId: string, dueAt: Date): string {
  return `${periodicTaskId}@${dueAt.getTime()}`;
}

/**
 * A PostgreSQL array literal (`{a,b}`) for `?::uuid[]`, `?::timestamptz[]` or `?::boolean[]`: knex would expand
 * a JS array binding into a list of parameters. Only for uuids, ISO instants and booleans (nothing to quote).
 */
function pgArray(values: readonly (string | boolean)[]): string {
  return `{${values.map(String).join(',')}}`;
}

/** Data access of the scheduler (SQL through the ORM's knex; every table is in schema `scheduler`). */
export interface SchedulerRepository {
  listTasks(filter?: TaskFilter): Promise<PeriodicTaskRecord[]>;
  /**
   * A cheap fingerprint of the periodic tasks' edit state (row counts and the latest `date_changed`): it changes
   * whenever a task is created, edited, enabled, disabled or deleted, and not when a slot merely fires.
   */
  changeVersion(): Promise<string>;
  /** By id or by unique name. */
  getTask(idOrName: string): Promise<PeriodicTaskRecord | null>;
  insertTask(id: string, values: PeriodicTaskValues, now: Date): Promise<PeriodicTaskRecord>;
  /** Replaces the editable columns; null when there is no such task. */
  updateTask(id: string, values: PeriodicTaskValues, now: Date): Promise<PeriodicTaskRecord | null>;
  deleteTask(id: string): Promise<boolean>;
  setEnabled(id: string, enabled: boolean, now: Date): Promise<void>;
  getSchedule(id: string): Promise<StoredSchedule | null>;
  listSchedules(): Promise<StoredSchedule[]>;
  /** Creates (id absent from its table) or updates a schedule. */
  saveSchedule(id: string, schedule: Schedule, isNew: boolean): Promise<StoredSchedule | null>;
  /** `in_use` when a periodic task references it. */
  deleteSchedule(id: string): Promise<'deleted' | 'in_use' | 'not_found'>;
  /**
   * Claims a slot for publication: inserts its fired-slot row, or takes over a row a previous leader claimed
   * but never confirmed (fired_at null, older fencing token). Returns the task id to publish with, or null when
   * the slot was already published (or is held by a newer leader).
   */
  claimSlot(
    periodicTaskId: string,
    dueAt: Date,
    taskId: string,
    fencingToken: number,
  ): Promise<string | null>;
  /**
   * {@link claimSlot} for many slots in one statement (the slots due at the same instant). Returns the task id
   * to publish with per claimed slot, keyed by {@link slotRef}; a slot absent from the map must not be published.
   */
  claimSlots(slots: readonly SlotClaim[], fencingToken: number): Promise<Map<string, string>>;
  /** Records the publication of a claimed slot and updates last run, run count and (one-off) enabled. */
  confirmSlot(periodicTaskId: string, dueAt: Date, firedAt: Date, disable: boolean): Promise<void>;
  /** {@link confirmSlot} for many slots in one transaction of two statements. */
  confirmSlots(slots: readonly SlotConfirmation[], firedAt: Date): Promise<void>;
  /**
   * Due time of the last resolved slot of each task — confirmed, or recorded as missed by a policy decision —
   * (absent when none).
   */
  lastFiredAt(ids: readonly string[]): Promise<Map<string, Date>>;
  /** Claimed slots neither confirmed nor recorded as missed, of every task, oldest first. */
  unresolvedSlots(): Promise<UnresolvedSlot[]>;
  /**
   * Records claimed, unconfirmed slots as missed with the decision that left them unpublished; a slot confirmed
   * meanwhile is left as it is. Returns how many were recorded.
   */
  markMissed(slots: readonly UnresolvedSlot[], decision: MissedSlotDecision, at: Date): Promise<number>;
  /**
   * Marks the task's slots up to `at` as resolved (a `fired_slot` row at `at`, recorded missed as `disabled`), so
   * that enabling a disabled task never replays the slots of its disabled period, even after a takeover.
   */
  resolveUntil(periodicTaskId: string, at: Date): Promise<void>;
  /** Runs `apply` once per database (guarded by a marker row, safe with concurrent replicas). */
  once(marker: string, apply: (repo: SchedulerRepository) => Promise<void>): Promise<boolean>;
}

/** Creates the {@link SchedulerRepository} on a knex instance (or transaction). */
export function createSchedulerRepository(knex: Knex): SchedulerRepository {
  const rows = async <T>(sql: string, bindings: readonly unknown[] = []): Promise<T[]> =>
    (await knex.raw<{ rows: T[] }>(sql, bindings as never)).rows;

  const repo: SchedulerRepository = {
    async changeVersion() {
      const [r] = await rows<{ v: string }>(
        `select count(*)::text || ':' || (count(*) filter (where enabled))::text || ':' ||
                coalesce(max(date_changed)::text, '') as v
           from scheduler.periodic_task`,
      );
      return r?.v ?? '';
    },
    async listTasks(filter = {}) {
      const where: string[] = [];
      const bindings: unknown[] = [];
      if (filter.enabled !== undefined) {
        where.push('pt.enabled = ?');
        bindings.push(filter.enabled);
      }
      if (filter.task) {
        where.push('pt.task = ?');
        bindings.push(filter.task);
      }
      if (filter.search) {
        where.push(`(pt.name ilike ? or pt.description ilike ?)`);
        const like = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        bindings.push(like, like);
      }
      const sql = `${TASK_SELECT}${where.length ? ` where ${where.join(' and ')}` : ''} order by pt.name`;
      return (await rows<TaskJoinRow>(sql, bindings)).map(toRecord);
    },
    async getTask(idOrName) {
      const [row] = isUuid(idOrName)
        ? await rows<TaskJoinRow>(`${TASK_SELECT} where pt.id = ? or pt.name = ?`, [idOrName, idOrName])
        : await rows<TaskJoinRow>(`${TASK_SELECT} where pt.name = ?`, [idOrName]);
      return row ? toRecord(row) : null;
    },
    async insertTask(id, values, now) {
      await knex('scheduler.periodic_task').insert({ id, ...taskColumns(values, now), created_at: now });
      return (await repo.getTask(id))!;
    },
    async updateTask(id, values, now) {
      const n = await knex('scheduler.periodic_task').where({ id }).update(taskColumns(values, now));
      return n ? repo.getTask(id) : null;
    },
    async deleteTask(id) {
      return (await knex('scheduler.periodic_task').where({ id }).delete()) > 0;
    },
    async setEnabled(id, enabled, now) {
      await knex('scheduler.periodic_task').where({ id }).update({ enabled, date_changed: now });
    },
    async getSchedule(id) {
      if (!isUuid(id)) return null;
      for (const kind of KINDS) {
        const [row] = await rows<Record<string, unknown>>(`select * from ${TABLE[kind]} where id = ?`, [id]);
        if (row) return scheduleFromRow(kind, row);
      }
      return null;
    },
    async listSchedules() {
      const out: StoredSchedule[] = [];
      for (const kind of KINDS) {
        const list = await rows<Record<string, unknown>>(
          `select * from ${TABLE[kind]} order by created_at, id`,
        );
        out.push(...list.map((r) => scheduleFromRow(kind, r)));
      }
      return out;
    },
    async saveSchedule(id, schedule, isNew) {
      if (isNew) {
        await knex(TABLE[schedule.kind]).insert({ id, ...scheduleColumns(schedule) });
      } else {
        const n = await knex(TABLE[schedule.kind]).where({ id }).update(scheduleColumns(schedule));
        if (!n) return null;
        // Tasks using it must be re-read by the engine: their schedule changed.
        await knex('scheduler.periodic_task')
          .where({ [`${schedule.kind}_id`]: id })
          .update({ date_changed: new Date() });
      }
      return { ...schedule, id };
    },
    async deleteSchedule(id) {
      const found = await repo.getSchedule(id);
      if (!found) return 'not_found';
      const [used] = await rows<{ n: string }>(
        `select count(*) as n from scheduler.periodic_task where ${found.kind}_id = ?`,
        [id],
      );
      if (Number(used?.n ?? 0) > 0) return 'in_use';
      await knex(TABLE[found.kind]).where({ id }).delete();
      return 'deleted';
    },
    async claimSlot(periodicTaskId, dueAt, taskId, fencingToken) {
      const claimed = await repo.claimSlots([{ periodicTaskId, dueAt, taskId }], fencingToken);
      return claimed.get(slotRef(periodicTaskId, dueAt)) ?? null;
    },
    async claimSlots(slots, fencingToken) {
      const out = new Map<string, string>();
      if (slots.length === 0) return out;
      // One row per slot: "on conflict do update" may not touch the same row twice in a statement.
      const unique = [...new Map(slots.map((s) => [slotRef(s.periodicTaskId, s.dueAt), s])).values()];
      const list = await rows<{ periodic_task_id: string; due_at: Date | string; task_id: string }>(
        `insert into scheduler.fired_slot (periodic_task_id, due_at, task_id, fencing_token)
         select u.p, u.d, u.t, ? from unnest(?::uuid[], ?::timestamptz[], ?::uuid[]) as u (p, d, t)
         on conflict (periodic_task_id, due_at) do update set fencing_token = excluded.fencing_token
           where scheduler.fired_slot.fired_at is null
             and scheduler.fired_slot.missed_at is null
             and scheduler.fired_slot.fencing_token <= excluded.fencing_token
         returning periodic_task_id, due_at, task_id`,
        [
          fencingToken,
          pgArray(unique.map((s) => s.periodicTaskId)),
          pgArray(unique.map((s) => s.dueAt.toISOString())),
          pgArray(unique.map((s) => s.taskId)),
        ],
      );
      for (const r of list) out.set(slotRef(r.periodic_task_id, dateOrNull(r.due_at)!), r.task_id);
      return out;
    },
    async confirmSlot(periodicTaskId, dueAt, firedAt, disable) {
      await repo.confirmSlots([{ periodicTaskId, dueAt, disable }], firedAt);
    },
    async confirmSlots(slots, firedAt) {
      if (slots.length === 0) return;
      const ids = pgArray(slots.map((s) => s.periodicTaskId));
      const dues = pgArray(slots.map((s) => s.dueAt.toISOString()));
      const disables = pgArray(slots.map((s) => s.disable));
      // One statement (atomic): only slots confirmed now count a run, not one an earlier leader confirmed.
      await knex.raw(
        `with confirmed as (
             update scheduler.fired_slot f set fired_at = ?, missed_at = null, missed_decision = null
               from unnest(?::uuid[], ?::timestamptz[], ?::boolean[]) as u (p, d, dis)
              where f.periodic_task_id = u.p and f.due_at = u.d and f.fired_at is null
              returning f.periodic_task_id as p, u.dis as dis
           ), runs as (select p, count(*) as n, bool_or(dis) as dis from confirmed group by p)
           update scheduler.periodic_task pt
              set last_run_at = ?, total_run_count = pt.total_run_count + runs.n,
                  enabled = case when runs.dis then false else pt.enabled end,
                  date_changed = case when runs.dis then ? else pt.date_changed end
             from runs
            where pt.id = runs.p`,
        [firedAt, ids, dues, disables, firedAt, firedAt],
      );
    },
    async lastFiredAt(ids) {
      const out = new Map<string, Date>();
      if (ids.length === 0) return out;
      const list = await rows<{ periodic_task_id: string; due_at: Date }>(
        `select periodic_task_id, max(due_at) as due_at from scheduler.fired_slot
          where (fired_at is not null or missed_at is not null) and periodic_task_id = any(?::uuid[])
          group by periodic_task_id`,
        [pgArray(ids)],
      );
      for (const r of list) out.set(r.periodic_task_id, dateOrNull(r.due_at)!);
      return out;
    },
    async unresolvedSlots() {
      const list = await rows<{ periodic_task_id: string; due_at: Date | string }>(
        `select periodic_task_id, due_at from scheduler.fired_slot
          where fired_at is null and missed_at is null order by due_at, periodic_task_id`,
      );
      return list.map((r) => ({ periodicTaskId: r.periodic_task_id, dueAt: dateOrNull(r.due_at)! }));
    },
    async markMissed(slots, decision, at) {
      if (slots.length === 0) return 0;
      const result = await knex.raw<{ rowCount: number }>(
        `update scheduler.fired_slot f set missed_at = ?, missed_decision = ?
           from unnest(?::uuid[], ?::timestamptz[]) as u (p, d)
          where f.periodic_task_id = u.p and f.due_at = u.d and f.fired_at is null and f.missed_at is null`,
        [
          at,
          decision,
          pgArray(slots.map((s) => s.periodicTaskId)),
          pgArray(slots.map((s) => s.dueAt.toISOString())),
        ],
      );
      return result.rowCount ?? 0;
    },
    async resolveUntil(periodicTaskId, at) {
      await knex.raw(
        `insert into scheduler.fired_slot
           (periodic_task_id, due_at, task_id, fencing_token, claimed_at, missed_at, missed_decision)
         values (?, ?, ?, 0, ?, ?, 'disabled')
         on conflict (periodic_task_id, due_at) do nothing`,
        [periodicTaskId, at, uuidv7(at.getTime()), at, at],
      );
    },
    async once(marker, apply) {
      return knex.transaction(async (trx) => {
        const inserted = await trx.raw<{ rows: unknown[] }>(
          `insert into scheduler.seed_marker (name) values (?) on conflict do nothing returning name`,
          [marker],
        );
        if (inserted.rows.length === 0) return false;
        await apply(createSchedulerRepository(trx));
        return true;
      });
    },
  };
  return repo;
}
