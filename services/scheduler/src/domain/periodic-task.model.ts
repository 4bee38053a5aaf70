/**
 * Periodic-task rules of django-celery-beat (enabled, one_off, start_time, expires, total_run_count) applied to
 * a schedule's fires, giving the task's slots: the instants at which it is due.
 *
 * - Disabled tasks have no slots.
 * - start_time: no slot before it (inclusive bound, as beat: due once `now >= start_time`).
 * - expires: no slot at or after it (beat treats `now >= expires` as expired).
 * - one_off and clocked tasks have a single slot (the schedule's first fire from the anchor; the clocked time)
 *   and none once `total_run_count > 0`; the caller disables the task after firing it (`disableAfterFire`).
 * - Interval slots are aligned on the anchor: start_time if set, else the creation time (see interval.schedule).
 */
import type { FieldError, Validated } from './validation.error.js';
import {
  validateSchedule,
  scheduleFireAtOrAfter,
  type Schedule,
  type ScheduleFire,
  type ScheduleInput,
} from './schedule.model.js';
import { slotKey } from './slot-key.util.js';

export const MISSED_RUN_MODES = ['skip', 'run_once', 'run_all'] as const;
/** What to do with slots that passed while no scheduler was running: omit them, run once, or run each. */
export type MissedRunMode = (typeof MISSED_RUN_MODES)[number];

export interface MissedRunPolicy {
  mode: MissedRunMode;
  /** `run_all` only: at most this many missed slots are run (the most recent ones). */
  cap: number;
}

export const DEFAULT_MISSED_RUN_CAP = 10;
export const MAX_MISSED_RUN_CAP = 1000;
export const DEFAULT_MISSED_RUN_POLICY: Readonly<MissedRunPolicy> = Object.freeze({
  mode: 'run_once',
  cap: DEFAULT_MISSED_RUN_CAP,
});

/** A periodic task as stored (django-celery-beat's `PeriodicTask`, plus the creation time and missed-run policy). */
export interface PeriodicTask {
  id: string;
  /** Name staff gave it, e.g. «Ingesta diaria de aspirantes (2 AM)». */
  name: string;
  /** Registered task name, e.g. `alumnos.tasks.ingestar_aspirantes`. */
  task: string;
  schedule: Schedule;
  args: unknown[];
  kwargs: Record<string, unknown>;
  enabled: boolean;
  oneOff: boolean;
  startTime: Date | null;
  expires: Date | null;
  lastRunAt: Date | null;
  totalRunCount: number;
  createdAt: Date;
  /** Default {@link DEFAULT_MISSED_RUN_POLICY}. */
  missedRunPolicy?: MissedRunPolicy;
}

/** The fields the timing functions read. */
export type PeriodicTaskTiming = Pick<
  PeriodicTask,
  'id' | 'name' | 'schedule' | 'enabled' | 'oneOff' | 'startTime' | 'expires' | 'totalRunCount' | 'createdAt'
> & { missedRunPolicy?: MissedRunPolicy };

/** A periodic task form as staff submit it. Values are checked at runtime, whatever their static type. */
export interface PeriodicTaskInput extends ScheduleInput {
  name?: string | null;
  task?: string | null;
  enabled?: boolean | null;
  oneOff?: boolean | null;
  startTime?: Date | null;
  expires?: Date | null;
  missedRunPolicy?: { mode?: string | null; cap?: number | null } | null;
}

/** A validated periodic task definition (what a create/update stores, before id and counters). */
export interface PeriodicTaskSpec {
  name: string;
  task: string;
  schedule: Schedule;
  enabled: boolean;
  oneOff: boolean;
  startTime: Date | null;
  expires: Date | null;
  missedRunPolicy: MissedRunPolicy;
}

/** A slot the scheduler should publish. */
export interface DueSlot {
  dueAt: Date;
  /** {@link slotKey} of the slot: `Nats-Msg-Id` and fired-slot record key. */
  key: string;
  /** One-off or clocked: disable the task once this slot is fired (django-celery-beat does the same). */
  disableAfterFire: boolean;
  /** Crontab DST rule 2 moved a wall time skipped by a spring-forward gap to the jump. */
  gapShifted: boolean;
}

const MAX_NAME_LENGTH = 200;

function isValidDate(value: unknown): value is Date {
  return value instanceof Date && !Number.isNaN(value.getTime());
}

/**
 * Validates a periodic task form. Errors name `name`, `task`, `schedule` or `<kind>.<field>`, `start_time`,
 * `expires`, `enabled`, `one_off`, `missed_run_policy.mode`, `missed_run_policy.cap`.
 * @param options.registeredTasks when given, `task` must be one of these names.
 */
export function validatePeriodicTask(
  input: PeriodicTaskInput,
  options: { registeredTasks?: Iterable<string> } = {},
): Validated<PeriodicTaskSpec> {
  const errors: FieldError[] = [];
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name === '') errors.push({ field: 'name', message: 'Debe indicar un nombre' });
  else if (name.length > MAX_NAME_LENGTH) {
    errors.push({ field: 'name', message: `El nombre no puede superar los ${MAX_NAME_LENGTH} caracteres` });
  }

  const task = typeof input.task === 'string' ? input.task.trim() : '';
  if (task === '') errors.push({ field: 'task', message: 'Debe indicar la tarea registrada' });
  else if (options.registeredTasks !== undefined && !new Set(options.registeredTasks).has(task)) {
    errors.push({ field: 'task', message: `Tarea no registrada «${task}»` });
  }

  const schedule = validateSchedule(input);
  if (!schedule.ok) errors.push(...schedule.errors);

  for (const [key, field] of [
    ['enabled', 'enabled'],
    ['oneOff', 'one_off'],
  ] as const) {
    const value = input[key];
    if (value != null && typeof value !== 'boolean')
      errors.push({ field, message: 'Debe ser verdadero o falso' });
  }

  const startTime = input.startTime ?? null;
  const expires = input.expires ?? null;
  if (startTime !== null && !isValidDate(startTime)) {
    errors.push({ field: 'start_time', message: 'Fecha de inicio inválida' });
  }
  if (expires !== null && !isValidDate(expires)) {
    errors.push({ field: 'expires', message: 'Fecha de expiración inválida' });
  }
  if (isValidDate(startTime) && isValidDate(expires) && expires.getTime() <= startTime.getTime()) {
    errors.push({ field: 'expires', message: 'La expiración debe ser posterior al inicio' });
  }
  if (schedule.ok && schedule.value.kind === 'clocked') {
    const at = schedule.value.clockedTime.getTime();
    if (isValidDate(startTime) && at < startTime.getTime()) {
      errors.push({
        field: 'clocked.clocked_time',
        message: 'La fecha programada es anterior al inicio: la tarea nunca se ejecutaría',
      });
    }
    if (isValidDate(expires) && at >= expires.getTime()) {
      errors.push({
        field: 'clocked.clocked_time',
        message: 'La tarea expira antes de la fecha programada: nunca se ejecutaría',
      });
    }
  }

  const policyInput = input.missedRunPolicy ?? {};
  const mode = policyInput.mode ?? DEFAULT_MISSED_RUN_POLICY.mode;
  const cap = policyInput.cap ?? DEFAULT_MISSED_RUN_POLICY.cap;
  if (!(MISSED_RUN_MODES as readonly string[]).includes(mode)) {
    errors.push({
      field: 'missed_run_policy.mode',
      message: `Política inválida «${mode}»: use skip (omitir), run_once (ejecutar una vez) o run_all (ejecutar todas)`,
    });
  }
  if (!Number.isSafeInteger(cap) || cap < 1 || cap > MAX_MISSED_RUN_CAP) {
    errors.push({
      field: 'missed_run_policy.cap',
      message: `El tope debe ser un entero entre 1 y ${MAX_MISSED_RUN_CAP}`,
    });
  }

  if (errors.length > 0 || !schedule.ok) return { ok: false, errors };
  return {
    ok: true,
    value: {
      name,
      task,
      schedule: schedule.value,
      enabled: input.enabled ?? true,
      oneOff: input.oneOff ?? false,
      startTime: startTime === null ? null : new Date(startTime.getTime()),
      expires: expires === null ? null : new Date(expires.getTime()),
      missedRunPolicy: { mode: mode as MissedRunMode, cap },
    },
  };
}

/** One-off and clocked tasks fire a single slot. */
export function isSingleShot(task: Pick<PeriodicTaskTiming, 'oneOff' | 'schedule'>): boolean {
  return task.oneOff || task.schedule.kind === 'clocked';
}

/** Interval alignment: the start time if set, else the creation time (epoch ms). */
export function taskAnchor(task: Pick<PeriodicTaskTiming, 'startTime' | 'createdAt'>): number {
  return (task.startTime ?? task.createdAt).getTime();
}

/**
 * The task's first slot at or after `from` (epoch ms), applying enabled / start / expires / one-off rules; null
 * when there is none. Building block of {@link nextDue}, missed-run resolution and previews.
 * @throws ScheduleValidationError when the stored schedule is invalid.
 */
export function taskSlotAtOrAfter(task: PeriodicTaskTiming, from: number): ScheduleFire | null {
  if (!task.enabled) return null;
  const single = isSingleShot(task);
  if (single && task.totalRunCount > 0) return null;
  const anchor = taskAnchor(task);
  // A clocked time set before the task was created still counts; for the other kinds the anchor is the floor.
  const floor = task.schedule.kind === 'clocked' ? (task.startTime?.getTime() ?? -Infinity) : anchor;
  const fire = scheduleFireAtOrAfter(task.schedule, single ? floor : Math.max(from, floor), anchor);
  if (fire === null || fire.at < from) return null;
  if (task.startTime !== null && fire.at < task.startTime.getTime()) return null;
  if (task.expires !== null && fire.at >= task.expires.getTime()) return null;
  return fire;
}

/** Turns a computed fire into a {@link DueSlot}. */
export function toDueSlot(task: PeriodicTaskTiming, fire: ScheduleFire): DueSlot {
  const dueAt = new Date(fire.at);
  return {
    dueAt,
    key: slotKey(task.id, dueAt),
    disableAfterFire: isSingleShot(task),
    gapShifted: fire.gapShifted,
  };
}

/**
 * The task's next slot strictly after `after`, or null: disabled, expired, a one-off/clocked task already run
 * (or whose only slot is not after `after`), or a schedule that never fires again.
 * @throws ScheduleValidationError when the stored schedule is invalid.
 */
export function nextDue(task: PeriodicTaskTiming, after: Date): DueSlot | null {
  const fire = taskSlotAtOrAfter(task, after.getTime() + 1);
  return fire === null ? null : toDueSlot(task, fire);
}

/** Whether the task can never be due again after `now` because of `expires` (beat: `now >= expires`). */
export function isExpired(task: Pick<PeriodicTaskTiming, 'expires'>, now: Date): boolean {
  return task.expires !== null && now.getTime() >= task.expires.getTime();
}
