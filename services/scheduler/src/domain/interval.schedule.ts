/**
 * Interval schedules (django-celery-beat `IntervalSchedule`): pure elapsed time, blind to DST.
 *
 * Slots are aligned on an anchor (the periodic task's start time if set, else its creation time):
 * anchor + k·every for k ≥ 1. A fresh hourly task created at 10:17 fires at 11:17, 12:17…, and each slot has a
 * stable identity across restarts and replicas (beat's `last_run_at + every` drifts with every late run).
 */
import type { FieldError, Validated } from './validation.error.js';
import { ScheduleValidationError } from './validation.error.js';

export const INTERVAL_PERIODS = ['days', 'hours', 'minutes', 'seconds', 'microseconds'] as const;
export type IntervalPeriod = (typeof INTERVAL_PERIODS)[number];

/** Every `every` `period`s. */
export interface IntervalSchedule {
  every: number;
  period: IntervalPeriod;
}

/** An interval as typed by staff (values are checked at runtime, whatever their static type). */
export interface IntervalScheduleInput {
  every?: number | null;
  period?: string | null;
}

const PERIOD_MICROS: Readonly<Record<IntervalPeriod, number>> = {
  days: 86_400_000_000,
  hours: 3_600_000_000,
  minutes: 60_000_000,
  seconds: 1_000_000,
  microseconds: 1,
};

/** Shortest interval accepted: a scheduler that publishes commands faster than once a second is a bug. */
export const MIN_INTERVAL_MS = 1_000;
/** Longest interval accepted (100 years), which keeps slot arithmetic well inside safe integers. */
export const MAX_INTERVAL_MS = 100 * 366 * 86_400_000;

/**
 * Validates an interval: `every` a positive integer, `period` one of {@link INTERVAL_PERIODS}, the whole
 * interval between 1 second and 100 years and a whole number of milliseconds.
 * @param prefix field prefix for errors; default `interval`.
 */
export function validateInterval(
  input: IntervalScheduleInput,
  prefix = 'interval',
): Validated<IntervalSchedule> {
  const errors: FieldError[] = [];
  const every = input.every;
  const period = input.period;
  const everyOk = typeof every === 'number' && Number.isSafeInteger(every) && every > 0;
  if (!everyOk) errors.push({ field: `${prefix}.every`, message: 'Debe ser un entero positivo' });
  const periodOk = typeof period === 'string' && (INTERVAL_PERIODS as readonly string[]).includes(period);
  if (!periodOk) {
    errors.push({
      field: `${prefix}.period`,
      message: `Período inválido «${String(period ?? '')}»: use days, hours, minutes, seconds o microseconds`,
    });
  }
  if (everyOk && periodOk) {
    const micros = every * PERIOD_MICROS[period as IntervalPeriod];
    if (micros < MIN_INTERVAL_MS * 1000) {
      errors.push({ field: `${prefix}.every`, message: 'El intervalo mínimo es de 1 segundo' });
    } else if (micros > MAX_INTERVAL_MS * 1000) {
      errors.push({ field: `${prefix}.every`, message: 'El intervalo máximo es de 100 años' });
    } else if (micros % 1000 !== 0) {
      errors.push({
        field: `${prefix}.every`,
        message: 'Con microsegundos, el intervalo debe ser un múltiplo de 1000 (milisegundos enteros)',
      });
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { every: every as number, period: period as IntervalPeriod } };
}

/**
 * Length of one interval in ms.
 * @throws ScheduleValidationError when the interval is invalid.
 */
export function intervalMs(schedule: IntervalSchedule): number {
  const checked = validateInterval(schedule);
  if (!checked.ok) throw new ScheduleValidationError(checked.errors);
  return (schedule.every * PERIOD_MICROS[schedule.period]) / 1000;
}

/** First slot anchor + k·periodMs (k ≥ 1) at or after `from`. All values epoch ms. */
export function intervalSlotAtOrAfter(anchor: number, periodMs: number, from: number): number {
  const k = Math.max(1, Math.ceil((from - anchor) / periodMs));
  return anchor + k * periodMs;
}

/**
 * Slot indices k (slot = anchor + k·periodMs, k ≥ 1) in the half-open span (after, until], as [first, last];
 * `last < first` when empty. Arithmetic, so a million missed slots cost nothing.
 */
export function intervalSlotRange(
  anchor: number,
  periodMs: number,
  after: number,
  until: number,
): { first: number; last: number } {
  const first = Math.max(1, Math.floor((after - anchor) / periodMs) + 1);
  const last = Math.floor((until - anchor) / periodMs);
  return { first, last };
}

const PERIOD_ES: Readonly<Record<IntervalPeriod, [string, string]>> = {
  days: ['día', 'días'],
  hours: ['hora', 'horas'],
  minutes: ['minuto', 'minutos'],
  seconds: ['segundo', 'segundos'],
  microseconds: ['microsegundo', 'microsegundos'],
};

/** `Cada 1 hora`, `Cada 30 minutos`, `Cada 2 días` (the wording of the staff manual). */
export function describeInterval(schedule: IntervalSchedule): string {
  const [one, many] = PERIOD_ES[schedule.period];
  return `Cada ${schedule.every} ${schedule.every === 1 ? one : many}`;
}
