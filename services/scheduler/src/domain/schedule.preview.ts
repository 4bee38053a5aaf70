/** The next runs of a schedule or periodic task, as the admin shows them before saving or on the task page. */
import { ScheduleValidationError } from './validation.error.js';
import {
  scheduleFireAtOrAfter,
  scheduleTimeZone,
  type Schedule,
  type ScheduleFire,
} from './schedule.model.js';
import { taskSlotAtOrAfter, type PeriodicTaskTiming } from './periodic-task.model.js';
import {
  DEFAULT_TIME_ZONE,
  foldOccurrenceAt,
  formatUtcOffset,
  formatWallIso,
  isValidTimeZone,
  offsetAt,
} from './time-zone.util.js';

/**
 * How a daylight-saving transition touches a run:
 * - `gap_shifted`: the matching wall time did not exist (spring forward); the run is at the jump;
 * - `fold_first` / `fold_second`: the run's local time happens twice (fall back); this is its first / second
 *   occurrence;
 * - `offset_changed`: the UTC offset differs from the previous run's (or, for the first run, from the offset
 *   at the preview's start).
 */
export type DstMarker = 'gap_shifted' | 'fold_first' | 'fold_second' | 'offset_changed';

export interface PreviewRun {
  /** ISO 8601 UTC, e.g. `2026-03-29T01:00:00.000Z`. */
  at: string;
  /** Local wall time in `timeZone`, `YYYY-MM-DDTHH:mm:ss`. */
  localTime: string;
  /** UTC offset of `timeZone` at the run, e.g. `-03:00`. */
  utcOffset: string;
  timeZone: string;
  /** The strongest DST marker that applies, in the order of {@link DstMarker}; null when none does. */
  dst: DstMarker | null;
  /** With `gap_shifted`: the local wall time the crontab asked for, which did not exist. */
  scheduledLocalTime?: string;
}

export const MAX_PREVIEW_RUNS = 100;
export const DEFAULT_PREVIEW_RUNS = 10;

export interface PreviewOptions {
  /** How many runs, 1..{@link MAX_PREVIEW_RUNS}; default {@link DEFAULT_PREVIEW_RUNS}. */
  count?: number;
  /** Zone to show interval, solar and clocked runs in; crontabs always use their own. Default Córdoba. */
  timeZone?: string;
}

function checkOptions(options: PreviewOptions): { count: number; timeZone: string } {
  const count = options.count ?? DEFAULT_PREVIEW_RUNS;
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  const errors = [];
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_PREVIEW_RUNS) {
    errors.push({ field: 'count', message: `Debe ser un entero entre 1 y ${MAX_PREVIEW_RUNS}` });
  }
  if (!isValidTimeZone(timeZone)) {
    errors.push({ field: 'time_zone', message: `Zona horaria desconocida «${timeZone}»` });
  }
  if (errors.length > 0) throw new ScheduleValidationError(errors);
  return { count, timeZone };
}

function collect(
  next: (from: number) => ScheduleFire | null,
  after: Date,
  count: number,
  zone: string,
): PreviewRun[] {
  const runs: PreviewRun[] = [];
  let previousOffset = offsetAt(zone, after.getTime());
  let cursor = after.getTime() + 1;
  while (runs.length < count) {
    const fire = next(cursor);
    if (fire === null) break;
    const offset = offsetAt(zone, fire.at);
    const fold = foldOccurrenceAt(zone, fire.at);
    const dst: DstMarker | null = fire.gapShifted
      ? 'gap_shifted'
      : fold === 'first'
        ? 'fold_first'
        : fold === 'second'
          ? 'fold_second'
          : offset !== previousOffset
            ? 'offset_changed'
            : null;
    const run: PreviewRun = {
      at: new Date(fire.at).toISOString(),
      localTime: formatWallIso(fire.at + offset),
      utcOffset: formatUtcOffset(offset),
      timeZone: zone,
      dst,
    };
    if (fire.gapShifted && fire.wall !== undefined) run.scheduledLocalTime = formatWallIso(fire.wall);
    runs.push(run);
    previousOffset = offset;
    cursor = fire.at + 1;
  }
  return runs;
}

/**
 * The next `count` fires of a bare schedule strictly after `after` (for a form, before the task exists).
 * @param options.anchor interval alignment; default `after` (a task created now).
 * @throws ScheduleValidationError for an invalid schedule, count or zone.
 */
export function previewSchedule(
  schedule: Schedule,
  after: Date,
  options: PreviewOptions & { anchor?: Date } = {},
): PreviewRun[] {
  const { count, timeZone } = checkOptions(options);
  const anchor = (options.anchor ?? after).getTime();
  const zone = scheduleTimeZone(schedule, timeZone);
  return collect((from) => scheduleFireAtOrAfter(schedule, from, anchor), after, count, zone);
}

/**
 * The next `count` slots of a periodic task strictly after `after`, honouring enabled, start, expires and
 * one-off (so possibly fewer than `count`).
 * @throws ScheduleValidationError for an invalid schedule, count or zone.
 */
export function previewTask(
  task: PeriodicTaskTiming,
  after: Date,
  options: PreviewOptions = {},
): PreviewRun[] {
  const { count, timeZone } = checkOptions(options);
  const zone = scheduleTimeZone(task.schedule, timeZone);
  return collect((from) => taskSlotAtOrAfter(task, from), after, count, zone);
}
