/**
 * The four schedule kinds of django-celery-beat as one tagged union, with validation, next-fire computation and
 * Spanish descriptions dispatched per kind.
 */
import type { FieldError, Validated } from './validation.error.js';
import { unwrapValidated } from './validation.error.js';
import {
  compileCrontab,
  crontabFireAtOrAfter,
  describeCrontab,
  validateCrontab,
  type CrontabSchedule,
  type CrontabScheduleInput,
} from './crontab.schedule.js';
import {
  describeInterval,
  intervalMs,
  intervalSlotAtOrAfter,
  validateInterval,
  type IntervalSchedule,
  type IntervalScheduleInput,
} from './interval.schedule.js';
import {
  describeSolar,
  solarFireAtOrAfter,
  validateSolar,
  type SolarSchedule,
  type SolarScheduleInput,
} from './solar.schedule.js';
import {
  clockedFireAtOrAfter,
  describeClocked,
  validateClocked,
  type ClockedSchedule,
  type ClockedScheduleInput,
} from './clocked.schedule.js';
import { DEFAULT_TIME_ZONE } from './time-zone.util.js';

export type Schedule =
  | ({ kind: 'interval' } & IntervalSchedule)
  | ({ kind: 'crontab' } & CrontabSchedule)
  | ({ kind: 'solar' } & SolarSchedule)
  | ({ kind: 'clocked' } & ClockedSchedule);

export type ScheduleKind = Schedule['kind'];

/** The schedule fields of a periodic task form: exactly one must be present (as in django-celery-beat). */
export interface ScheduleInput {
  interval?: IntervalScheduleInput | null;
  crontab?: CrontabScheduleInput | null;
  solar?: SolarScheduleInput | null;
  clocked?: ClockedScheduleInput | null;
}

/** One computed fire of a schedule. */
export interface ScheduleFire {
  /** Epoch ms. */
  at: number;
  /** Crontab only: a wall time skipped by a spring-forward gap was fired at the jump (DST rule 2). */
  gapShifted: boolean;
  /** Crontab only: the matching local wall value that produced the fire (see time-zone.util). */
  wall?: number;
}

/**
 * Validates the schedule part of a periodic task: exactly one kind, then that kind's fields.
 * Errors name `schedule` (zero or several kinds) or `<kind>.<field>`.
 */
export function validateSchedule(input: ScheduleInput): Validated<Schedule> {
  const present = (['interval', 'crontab', 'solar', 'clocked'] as const).filter(
    (kind) => input[kind] != null,
  );
  if (present.length !== 1) {
    return {
      ok: false,
      errors: [
        {
          field: 'schedule',
          message: 'Debe indicar exactamente un tipo de programación (intervalo, crontab, solar o clocked)',
        },
      ],
    };
  }
  const withKind = <T>(result: Validated<T>, tag: (value: T) => Schedule): Validated<Schedule> =>
    result.ok ? { ok: true, value: tag(result.value) } : result;
  switch (present[0]!) {
    case 'interval':
      return withKind(validateInterval(input.interval!), (v) => ({ kind: 'interval', ...v }));
    case 'crontab':
      return withKind(validateCrontab(input.crontab!), (v) => ({ kind: 'crontab', ...v }));
    case 'solar':
      return withKind(validateSolar(input.solar!), (v) => ({ kind: 'solar', ...v }));
    case 'clocked':
      return withKind(validateClocked(input.clocked!), (v) => ({ kind: 'clocked', ...v }));
  }
}

/** Re-validates a stored schedule (e.g. before computing with it); errors as {@link validateSchedule}. */
export function checkSchedule(schedule: Schedule): FieldError[] {
  const result = validateSchedule({ [schedule.kind]: schedule });
  return result.ok ? [] : result.errors;
}

/**
 * The first fire of `schedule` at or after `from` (epoch ms), or null when there is none. Interval slots are
 * `anchor + k·every`, k ≥ 1; the other kinds ignore `anchor`.
 * @throws ScheduleValidationError when the schedule is invalid.
 */
export function scheduleFireAtOrAfter(schedule: Schedule, from: number, anchor: number): ScheduleFire | null {
  switch (schedule.kind) {
    case 'interval':
      return { at: intervalSlotAtOrAfter(anchor, intervalMs(schedule), from), gapShifted: false };
    case 'crontab': {
      const fire = crontabFireAtOrAfter(compileCrontab(schedule), from);
      return fire === null ? null : { at: fire.at, gapShifted: fire.gapShifted, wall: fire.wall };
    }
    case 'solar': {
      const solar = unwrapValidated(validateSolar(schedule));
      const at = solarFireAtOrAfter(solar, from);
      return at === null ? null : { at, gapShifted: false };
    }
    case 'clocked': {
      const at = clockedFireAtOrAfter(unwrapValidated(validateClocked(schedule)), from);
      return at === null ? null : { at, gapShifted: false };
    }
  }
}

/**
 * The next fire of a schedule strictly after `after`, ignoring periodic-task rules (start, expires, one-off);
 * for those use `nextDue`.
 * @param options.anchor interval alignment (the task's start time or creation time); default `after`, i.e. a
 *   task created now.
 */
export function nextScheduleFire(
  schedule: Schedule,
  after: Date,
  options: { anchor?: Date } = {},
): Date | null {
  const fire = scheduleFireAtOrAfter(schedule, after.getTime() + 1, (options.anchor ?? after).getTime());
  return fire === null ? null : new Date(fire.at);
}

/** The zone a schedule's wall times belong to: the crontab's own, else `fallback`. */
export function scheduleTimeZone(schedule: Schedule, fallback = DEFAULT_TIME_ZONE): string {
  return schedule.kind === 'crontab' ? schedule.timezone : fallback;
}

/**
 * A Spanish description of any schedule kind (`Cada 1 hora`, `Todos los días a las 02:00 (…)`, …).
 * @param options.timeZone zone used to show a clocked instant; default {@link DEFAULT_TIME_ZONE}.
 * @throws ScheduleValidationError when a crontab is invalid.
 */
export function describeSchedule(schedule: Schedule, options: { timeZone?: string } = {}): string {
  switch (schedule.kind) {
    case 'interval':
      return describeInterval(schedule);
    case 'crontab':
      return describeCrontab(schedule);
    case 'solar':
      return describeSolar(schedule);
    case 'clocked':
      return describeClocked(schedule, options.timeZone ?? DEFAULT_TIME_ZONE);
  }
}
