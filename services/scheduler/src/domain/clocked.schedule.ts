/** Clocked schedules (django-celery-beat `ClockedSchedule`): one instant, fired once. */
import type { Validated } from './validation.error.js';
import { DEFAULT_TIME_ZONE, formatInstantEsAr } from './time-zone.util.js';

export interface ClockedSchedule {
  clockedTime: Date;
}

export interface ClockedScheduleInput {
  clockedTime?: Date | null;
}

/**
 * Validates a clocked schedule: `clocked_time` must be a valid date.
 * @param prefix field prefix for errors; default `clocked`.
 */
export function validateClocked(input: ClockedScheduleInput, prefix = 'clocked'): Validated<ClockedSchedule> {
  const time = input.clockedTime;
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    return {
      ok: false,
      errors: [{ field: `${prefix}.clocked_time`, message: 'Debe indicar una fecha y hora válida' }],
    };
  }
  return { ok: true, value: { clockedTime: new Date(time.getTime()) } };
}

/** The clocked instant if it is at or after `from` (epoch ms), else null. */
export function clockedFireAtOrAfter(schedule: ClockedSchedule, from: number): number | null {
  const at = schedule.clockedTime.getTime();
  return at >= from ? at : null;
}

/**
 * `Una sola vez, el 15/01/2026 10:00 (America/Argentina/Cordoba)`.
 * @param timeZone zone to show the instant in; default {@link DEFAULT_TIME_ZONE}.
 */
export function describeClocked(schedule: ClockedSchedule, timeZone = DEFAULT_TIME_ZONE): string {
  return `Una sola vez, el ${formatInstantEsAr(timeZone, schedule.clockedTime.getTime())} (${timeZone})`;
}
