// Crontab schedules with django-celery-beat's fields and celery's semantics, matched on the wall clock of the
// schedule's own time zone.
//
// Field syntax (as celery's `crontab_parser` accepts it): `*`, `*/n`, `a`, `a-b`, `a-b/n` and comma lists of
// those; a range whose end is below its start wraps around (`fri-mon`). Day of week is 0–6 with 0 = Sunday, 7 is
// also accepted as Sunday (as in Vixie cron), and the names sun…sat (or full English names); months are 1–12 or
// jan…dec.
//
// Unlike Vixie cron, celery requires ALL fields to match: when both day_of_month and day_of_week are
// restricted, a day must satisfy both (`0 0 13 * fri` is "Friday the 13th", not "every 13th and every Friday").
//
// Daylight-saving rules (wall-clock semantics in the schedule's zone; docs/architecture.md quotes these):
// 1. A crontab's fields are matched against the local wall clock of its own zone (default
//    America/Argentina/Cordoba), never against UTC or the server's zone.
// 2. Gap (spring forward): a matching wall time that does not exist that day fires once, at the instant the
//    clock jumps, i.e. the first instant after the gap: 02:30 in Europe/Madrid on 2026-03-29 fires at 03:00
//    CEST (01:00Z). All matches inside one gap collapse into that single fire (`*/15 2 * * *` fires once, at
//    03:00 CEST), which is also the fire of the first wall time after the gap if that one matches.
// 3. Fold (fall back): a matching wall time that happens twice fires once, on its first occurrence: 02:30 in
//    Europe/Madrid on 2026-10-25 fires at 02:30 CEST (00:30Z), not again at 02:30 CET (01:30Z).
// 4. Exception, schedules whose hour field matches all 24 hours (`0 * * * *`, `*/15 * * * *`): they follow
//    real elapsed time. In a fold they fire in both passes of the repeated hour (every real hour, or every 15
//    real minutes), and in a gap the minutes that do not exist are skipped, not made up (the hour after the
//    jump has its own matches): `30 * * * *` fires at 01:30 CET and then at 03:30 CEST.
// 5. A schedule never fires twice at the same instant, whatever rule produced the fire.
// Interval schedules are elapsed time only and ignore DST; solar schedules are astronomical instants.

import { ScheduleValidationError, type FieldError, type Validated } from './validation.error.js';
import {
  DAY_MS,
  DEFAULT_TIME_ZONE,
  MINUTE_MS,
  isValidTimeZone,
  pad2,
  wallFromFields,
  zoneSegmentAt,
} from './time-zone.util.js';

/** A crontab as django-celery-beat stores it: five celery fields and an IANA time zone. */
export interface CrontabSchedule {
  minute: string;
  hour: string;
  dayOfWeek: string;
  dayOfMonth: string;
  monthOfYear: string;
  /** IANA zone name, e.g. `America/Argentina/Cordoba`. */
  timezone: string;
}

/** A crontab as typed by staff: any field left out is `*`, the zone defaults to {@link DEFAULT_TIME_ZONE}. */
export type CrontabScheduleInput = Partial<CrontabSchedule>;

type CrontabFieldName = 'minute' | 'hour' | 'day_of_week' | 'day_of_month' | 'month_of_year';

interface FieldSpec {
  key: Exclude<keyof CrontabSchedule, 'timezone'>;
  min: number;
  max: number;
  label: string;
  invalid: string;
  names?: Readonly<Record<string, number>>;
  range: string;
}

const WEEKDAY_NAMES: Readonly<Record<string, number>> = {
  sun: 0,
  mon: 1,
  tue: 2,
  wed: 3,
  thu: 4,
  fri: 5,
  sat: 6,
};

const MONTH_NAMES: Readonly<Record<string, number>> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};

const FIELD_SPECS: Readonly<Record<CrontabFieldName, FieldSpec>> = {
  minute: { key: 'minute', min: 0, max: 59, label: 'Minuto', invalid: 'inválido', range: 'entre 0 y 59' },
  hour: { key: 'hour', min: 0, max: 23, label: 'Hora', invalid: 'inválida', range: 'entre 0 y 23' },
  day_of_month: {
    key: 'dayOfMonth',
    min: 1,
    max: 31,
    label: 'Día del mes',
    invalid: 'inválido',
    range: 'entre 1 y 31',
  },
  month_of_year: {
    key: 'monthOfYear',
    min: 1,
    max: 12,
    label: 'Mes',
    invalid: 'inválido',
    names: MONTH_NAMES,
    range: 'entre 1 y 12 (o jan…dec)',
  },
  day_of_week: {
    key: 'dayOfWeek',
    min: 0,
    // 7 is parsed and then folded onto 0 (Sunday).
    max: 7,
    label: 'Día de la semana',
    invalid: 'inválido',
    names: WEEKDAY_NAMES,
    range: 'entre 0 y 6, con 0 o 7 = domingo (o sun…sat)',
  },
};

const FIELD_ORDER: readonly CrontabFieldName[] = [
  'minute',
  'hour',
  'day_of_month',
  'month_of_year',
  'day_of_week',
];

const PART = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(.*))?$/;

/** A crontab ready for fast matching. Build with {@link compileCrontab}. */
export interface CompiledCrontab {
  readonly source: CrontabSchedule;
  readonly zone: string;
  /** Sorted allowed values per field (day of week folded to 0–6). */
  readonly values: Readonly<Record<CrontabFieldName, readonly number[]>>;
  /** The hour field matches all 24 hours: DST rule 4 applies. */
  readonly everyHour: boolean;
  /** Some allowed day of month exists in some allowed month (false for `0 0 31 2 *`). */
  readonly possible: boolean;
  readonly nextMinute: Int8Array;
  readonly nextHour: Int8Array;
  readonly nextDay: Int8Array;
  readonly nextMonth: Int8Array;
  readonly weekdays: Uint8Array;
}

/** One fire of a crontab. `gapShiftedFrom` is set when DST rule 2 moved a non-existent wall time. */
export interface CrontabFire {
  /** Epoch ms. */
  at: number;
  /** Wall value of the (first) matching wall time that produced this fire. */
  wall: number;
  gapShifted: boolean;
}

function parseNumber(token: string, spec: FieldSpec): number | null {
  if (/^\d+$/.test(token)) return Number(token);
  if (spec.names === undefined || token.length < 3) return null;
  const name = token.slice(0, 3);
  const full = spec.names === WEEKDAY_NAMES ? WEEKDAY_FULL[name] : MONTH_FULL[name];
  if (token.length > 3 && token !== full) return null;
  return spec.names[name] ?? null;
}

const WEEKDAY_FULL: Readonly<Record<string, string>> = {
  sun: 'sunday',
  mon: 'monday',
  tue: 'tuesday',
  wed: 'wednesday',
  thu: 'thursday',
  fri: 'friday',
  sat: 'saturday',
};
const MONTH_FULL: Readonly<Record<string, string>> = {
  jan: 'january',
  feb: 'february',
  mar: 'march',
  apr: 'april',
  may: 'may',
  jun: 'june',
  jul: 'july',
  aug: 'august',
  sep: 'september',
  oct: 'october',
  nov: 'november',
  dec: 'december',
};

function parseField(
  name: CrontabFieldName,
  raw: string,
  prefix: string,
): { values: number[] } | { error: FieldError } {
  const spec = FIELD_SPECS[name];
  const field = `${prefix}.${name}`;
  const text = raw.trim().toLowerCase();
  const syntax = (token: string): { error: FieldError } => ({
    error: {
      field,
      message: `${spec.label} ${spec.invalid} «${token}»: use *, */n, a, a-b, a-b/n o listas separadas por comas`,
    },
  });
  const outOfRange = (token: string): { error: FieldError } => ({
    error: { field, message: `${spec.label} ${spec.invalid} «${token}»: debe estar ${spec.range}` },
  });
  if (text === '') {
    return { error: { field, message: `${spec.label}: debe indicar un valor (use * para todos)` } };
  }
  const seen = new Set<number>();
  for (const part of text.split(',').map((p) => p.trim())) {
    const match = PART.exec(part);
    if (match === null) return syntax(part);
    const [, star, fromToken, toToken, stepToken] = match;
    let step = 1;
    if (stepToken !== undefined) {
      if (!/^\d+$/.test(stepToken) || Number(stepToken) < 1) {
        return {
          error: {
            field,
            message: `${spec.label} ${spec.invalid} «${part}»: el paso debe ser un entero positivo`,
          },
        };
      }
      // Celery rejects `a/n` (a step needs `*` or a range).
      if (star === undefined && toToken === undefined) return syntax(part);
      step = Number(stepToken);
    }
    let sequence: number[];
    if (star !== undefined) {
      const top = name === 'day_of_week' ? 6 : spec.max;
      sequence = [];
      for (let v = spec.min; v <= top; v++) sequence.push(v);
    } else {
      const from = parseNumber(fromToken!, spec);
      if (from === null) return /^\d+$/.test(fromToken!) ? outOfRange(fromToken!) : syntax(part);
      if (from < spec.min || from > spec.max) return outOfRange(fromToken!);
      if (toToken === undefined) {
        sequence = [from];
      } else {
        const to = parseNumber(toToken, spec);
        if (to === null) return syntax(part);
        if (to < spec.min || to > spec.max) return outOfRange(toToken);
        // 7 is Sunday too: `7-2` is sun–tue, `7-7` just Sunday.
        const start = name === 'day_of_week' && from === 7 ? (to === 7 ? 7 : 0) : from;
        sequence = [];
        if (to >= start) {
          for (let v = start; v <= to; v++) sequence.push(v);
        } else {
          // Celery wraps a descending range around the end of the field.
          const top = name === 'day_of_week' ? 6 : spec.max;
          for (let v = start; v <= top; v++) sequence.push(v);
          for (let v = spec.min; v <= to; v++) sequence.push(v);
        }
      }
    }
    for (let i = 0; i < sequence.length; i += step) {
      const value = sequence[i]!;
      seen.add(name === 'day_of_week' && value === 7 ? 0 : value);
    }
  }
  return { values: [...seen].sort((a, b) => a - b) };
}

function nextTable(values: readonly number[], size: number): Int8Array {
  const table = new Int8Array(size + 1).fill(-1);
  const allowed = new Uint8Array(size + 1);
  for (const value of values) allowed[value] = 1;
  let next = -1;
  for (let i = size; i >= 0; i--) {
    if (allowed[i] === 1) next = i;
    table[i] = next;
  }
  return table;
}

const MAX_DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Validates a crontab as staff typed it and returns it normalised (fields trimmed, zone defaulted).
 * Errors name `<prefix>.minute`, `<prefix>.hour`, `<prefix>.day_of_week`, `<prefix>.day_of_month`,
 * `<prefix>.month_of_year`, `<prefix>.timezone`; also a day of month that never exists in the chosen months.
 * @param prefix field prefix for errors; default `crontab`.
 */
export function validateCrontab(input: CrontabScheduleInput, prefix = 'crontab'): Validated<CrontabSchedule> {
  const compiled = compileInternal(input, prefix);
  if ('errors' in compiled) return { ok: false, errors: compiled.errors };
  if (!compiled.possible) {
    // Celery accepts these and beat silently never runs them; telling staff is kinder.
    return {
      ok: false,
      errors: [
        {
          field: `${prefix}.day_of_month`,
          message:
            `El día del mes «${compiled.source.dayOfMonth}» no existe en los meses «${compiled.source.monthOfYear}»: ` +
            'la tarea nunca se ejecutaría',
        },
      ],
    };
  }
  return { ok: true, value: compiled.source };
}

function normalise(input: CrontabScheduleInput): CrontabSchedule {
  const text = (value: unknown): string =>
    typeof value === 'string' ? value.trim() : value == null ? '*' : '';
  return {
    minute: text(input.minute),
    hour: text(input.hour),
    dayOfWeek: text(input.dayOfWeek),
    dayOfMonth: text(input.dayOfMonth),
    monthOfYear: text(input.monthOfYear),
    timezone:
      input.timezone == null || input.timezone === '' ? DEFAULT_TIME_ZONE : String(input.timezone).trim(),
  };
}

function compileInternal(
  input: CrontabScheduleInput,
  prefix: string,
): CompiledCrontab | { errors: FieldError[] } {
  const source = normalise(input);
  const errors: FieldError[] = [];
  const values = {} as Record<CrontabFieldName, number[]>;
  for (const name of FIELD_ORDER) {
    const parsed = parseField(name, source[FIELD_SPECS[name].key], prefix);
    if ('error' in parsed) errors.push(parsed.error);
    else values[name] = parsed.values;
  }
  if (!isValidTimeZone(source.timezone)) {
    errors.push({ field: `${prefix}.timezone`, message: `Zona horaria desconocida «${source.timezone}»` });
  }
  if (errors.length > 0) return { errors };

  const possible = values.month_of_year.some((month) =>
    values.day_of_month.some((day) => day <= MAX_DAYS_IN_MONTH[month]!),
  );
  const weekdays = new Uint8Array(7);
  for (const day of values.day_of_week) weekdays[day] = 1;
  return {
    source,
    zone: source.timezone,
    values,
    everyHour: values.hour.length === 24,
    possible,
    nextMinute: nextTable(values.minute, 59),
    nextHour: nextTable(values.hour, 23),
    nextDay: nextTable(values.day_of_month, 32),
    nextMonth: nextTable(values.month_of_year, 12),
    weekdays,
  };
}

const compiledCache = new Map<string, CompiledCrontab>();
const MAX_COMPILED = 50_000;

function cacheKey(schedule: CrontabScheduleInput): string {
  return [
    schedule.minute,
    schedule.hour,
    schedule.dayOfMonth,
    schedule.monthOfYear,
    schedule.dayOfWeek,
    schedule.timezone,
  ].join('\u0000');
}

/**
 * Parses a crontab into its fast matching form (memoised by field values).
 * @throws ScheduleValidationError when a field or the zone is invalid.
 */
export function compileCrontab(schedule: CrontabScheduleInput): CompiledCrontab {
  const key = cacheKey(schedule);
  const cached = compiledCache.get(key);
  if (cached !== undefined) return cached;
  const compiled = compileInternal(schedule, 'crontab');
  if ('errors' in compiled) throw new ScheduleValidationError(compiled.errors);
  // The field-level impossibility check is kept for validation messages only; compiling still succeeds so
  // that an impossible crontab stored by an older version simply never fires.
  if (compiledCache.size >= MAX_COMPILED) compiledCache.clear();
  compiledCache.set(key, compiled);
  return compiled;
}

function daysInMonth(year: number, month: number): number {
  if (month !== 2) return MAX_DAYS_IN_MONTH[month]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

function weekdayOf(year: number, month: number, day: number): number {
  // 1970-01-01 was a Thursday (4).
  const days = Math.floor(wallFromFields(year, month, day) / DAY_MS);
  return (((days + 4) % 7) + 7) % 7;
}

/**
 * First wall value ≥ `from` (minute-aligned) matching every field, and < `limit`; null when none. Searches at
 * most ~401 years ahead: every (month, day) pair that exists at all falls on every weekday within the
 * 400-year Gregorian cycle, so a longer search could not find anything new.
 */
export function nextMatchingWall(crontab: CompiledCrontab, from: number, limit: number): number | null {
  if (!crontab.possible || !Number.isFinite(from) || Math.abs(from) > 8e15) return null;
  const start = new Date(from);
  let year = start.getUTCFullYear();
  let month = start.getUTCMonth() + 1;
  let day = start.getUTCDate();
  let hour = start.getUTCHours();
  let minute = start.getUTCMinutes();
  const lastYear = year + 401;

  for (;;) {
    if (year > lastYear) return null;
    if (limit !== Infinity && wallFromFields(year, month, day, hour, minute) >= limit) return null;
    const allowedMonth = crontab.nextMonth[month]!;
    if (allowedMonth !== month) {
      if (allowedMonth < 0) {
        year++;
        month = crontab.nextMonth[1]!;
      } else {
        month = allowedMonth;
      }
      day = 1;
      hour = 0;
      minute = 0;
      continue;
    }
    const allowedDay = crontab.nextDay[day]!;
    if (allowedDay < 0 || allowedDay > daysInMonth(year, month)) {
      month++;
      if (month > 12) {
        month = 1;
        year++;
      }
      day = 1;
      hour = 0;
      minute = 0;
      continue;
    }
    if (allowedDay !== day) {
      day = allowedDay;
      hour = 0;
      minute = 0;
    }
    if (crontab.weekdays[weekdayOf(year, month, day)] === 0) {
      day++;
      hour = 0;
      minute = 0;
      continue;
    }
    const allowedHour = crontab.nextHour[hour]!;
    if (allowedHour < 0) {
      day++;
      hour = 0;
      minute = 0;
      continue;
    }
    if (allowedHour !== hour) {
      hour = allowedHour;
      minute = 0;
    }
    const allowedMinute = crontab.nextMinute[minute]!;
    if (allowedMinute < 0) {
      hour++;
      minute = 0;
      if (hour > 23) {
        day++;
        hour = 0;
      }
      continue;
    }
    const wall = wallFromFields(year, month, day, hour, allowedMinute);
    return wall < limit ? wall : null;
  }
}

/** Keeps the ~402-year search inside the range of `Date` (±8.64e15 ms). */
const LATEST_SEARCH_START = 8e15 - 403 * 366 * DAY_MS;

function ceilToMinute(value: number): number {
  return Math.ceil(value / MINUTE_MS) * MINUTE_MS;
}

/**
 * The first fire of a crontab at or after `from` (epoch ms), applying the DST rules of this module; null when
 * the crontab can never fire (e.g. `0 0 31 2 *`). Bounded: looks at most ~401 years ahead.
 */
export function crontabFireAtOrAfter(crontab: CompiledCrontab, from: number): CrontabFire | null {
  if (!crontab.possible || Number.isNaN(from) || from > LATEST_SEARCH_START) return null;
  // Fires before 1970 are of no use to a scheduler, and Intl's historical offsets there have seconds in them.
  from = Math.max(from, 0);
  // First matching wall ≥ `searchedFrom` is `match` (null: none ever). Segments whose wall span ends before
  // `match` reuse it instead of searching again, so a rare crontab (29 February on a Monday) crosses dozens
  // of DST segments with one calendar search.
  let searchedFrom = Infinity;
  let match: number | null = null;
  const firstMatchFrom = (wall: number): number | null => {
    if (!(searchedFrom <= wall && (match === null || match >= wall))) {
      searchedFrom = wall;
      match = nextMatchingWall(crontab, wall, Infinity);
    }
    return match;
  };

  const horizon = from + 402 * 366 * DAY_MS;
  let cursor = ceilToMinute(from);
  while (cursor < horizon) {
    const segment = zoneSegmentAt(crontab.zone, cursor);
    if (!crontab.everyHour && cursor === segment.start && segment.prevOffset < segment.offset) {
      // Searching from the very instant of a spring-forward jump (e.g. from within the last minute before it):
      // the gap's fire (rule 2) belongs to this instant even though the search starts in the new segment.
      const gapWall = firstMatchFrom(ceilToMinute(segment.start + segment.prevOffset));
      if (gapWall !== null && gapWall < segment.start + segment.offset) {
        return { at: segment.start, wall: gapWall, gapShifted: true };
      }
    }
    const wallLimit = segment.end + segment.offset;
    let wallFrom = ceilToMinute(cursor + segment.offset);
    if (!crontab.everyHour && segment.prevOffset > segment.offset) {
      // Second pass of a fold: these wall times already had their (only) fire on the first pass (rule 3).
      wallFrom = Math.max(wallFrom, ceilToMinute(segment.start + segment.prevOffset));
    }
    const wall = firstMatchFrom(wallFrom);
    if (wall === null) return null;
    if (wall < wallLimit) return { at: wall - segment.offset, wall, gapShifted: false };
    if (
      !crontab.everyHour &&
      segment.nextOffset > segment.offset &&
      wall < segment.end + segment.nextOffset
    ) {
      // Rule 2: wall times in [end + offset, end + nextOffset) never happen; fire once at the jump.
      return { at: segment.end, wall, gapShifted: true };
    }
    // No match before `wall`, so no fire in any segment before it either (no match to fire, none in a gap):
    // land two days short of it (more than any UTC offset) without visiting the segments in between.
    cursor = Math.max(segment.end, wall - 2 * DAY_MS);
  }
  return null;
}

/**
 * Builds a crontab from a five-field expression in django-celery-beat's display order
 * (`minute hour day_of_month month_of_year day_of_week`, the same order as Vixie cron), e.g. `0 2 * * *`.
 * Not validated: pass the result to {@link validateCrontab}.
 * @param timezone default {@link DEFAULT_TIME_ZONE}.
 */
export function crontabFromExpression(expression: string, timezone = DEFAULT_TIME_ZONE): CrontabSchedule {
  const fields = expression.trim().split(/\s+/);
  const [minute = '', hour = '', dayOfMonth = '', monthOfYear = '', dayOfWeek = ''] =
    fields.length === 5 ? fields : [];
  return { minute, hour, dayOfMonth, monthOfYear, dayOfWeek, timezone };
}

/** django-celery-beat's `__str__`: `0 2 * * * (m/h/dM/MY/d) America/Argentina/Cordoba`. */
export function crontabRawText(schedule: CrontabSchedule): string {
  return (
    `${schedule.minute} ${schedule.hour} ${schedule.dayOfMonth} ${schedule.monthOfYear} ${schedule.dayOfWeek}` +
    ` (m/h/dM/MY/d) ${schedule.timezone}`
  );
}

const WEEKDAY_ES = ['domingo', 'lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábado'];
const WEEKDAY_ES_PLURAL = ['domingos', 'lunes', 'martes', 'miércoles', 'jueves', 'viernes', 'sábados'];
const MONTH_ES = [
  '',
  'enero',
  'febrero',
  'marzo',
  'abril',
  'mayo',
  'junio',
  'julio',
  'agosto',
  'septiembre',
  'octubre',
  'noviembre',
  'diciembre',
];

function joinEs(items: readonly string[], conjunction = 'y'): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items.at(-1)}`;
}

function isContiguous(values: readonly number[]): boolean {
  return values.every((v, i) => i === 0 || v === values[i - 1]! + 1);
}

function stepOf(raw: string): number | null {
  const match = /^\*\/(\d+)$/.exec(raw.trim());
  return match === null ? null : Number(match[1]);
}

function hhmm(hour: number, minute: number): string {
  return `${pad2(hour)}:${pad2(minute)}`;
}

/** "Cada …" phrases stand alone; "a las …" phrases need a day phrase in front. */
type TimePhrase = { kind: 'every'; text: string } | { kind: 'at'; text: string };

function timePhrase(c: CompiledCrontab): TimePhrase | null {
  const minutes = c.values.minute;
  const hours = c.values.hour;
  const minuteStep = stepOf(c.source.minute);
  const allMinutes = minutes.length === 60;
  const minutePhrase = (): string | null => {
    if (allMinutes || minuteStep === 1) return 'Cada minuto';
    if (minuteStep !== null) return `Cada ${minuteStep} minutos`;
    return null;
  };

  if (!c.everyHour && minutes.length * hours.length <= 6 && !allMinutes && minuteStep === null) {
    const times = hours.flatMap((h) => minutes.map((m) => hhmm(h, m)));
    return { kind: 'at', text: `a las ${joinEs(times)}` };
  }
  if (c.everyHour) {
    const every = minutePhrase();
    if (every !== null) return { kind: 'every', text: every };
    if (minutes.length === 1) {
      const m = minutes[0]!;
      return { kind: 'every', text: m === 0 ? 'Cada hora en punto' : `Cada hora, a los ${m} minutos` };
    }
    return null;
  }
  const hourStep = stepOf(c.source.hour);
  if (hourStep !== null && minutes.length === 1) {
    const m = minutes[0]!;
    return {
      kind: 'every',
      text: m === 0 ? `Cada ${hourStep} horas en punto` : `Cada ${hourStep} horas, a los ${m} minutos`,
    };
  }
  if (isContiguous(hours)) {
    const first = hours[0]!;
    const last = hours.at(-1)!;
    const every = minutePhrase();
    if (every !== null) {
      return {
        kind: 'every',
        text: `${every}, de ${hhmm(first, minutes[0]!)} a ${hhmm(last, minutes.at(-1)!)}`,
      };
    }
    if (minutes.length === 1) {
      const m = minutes[0]!;
      const head = m === 0 ? 'Cada hora en punto' : `Cada hora, a los ${m} minutos`;
      return { kind: 'every', text: `${head}, de ${hhmm(first, m)} a ${hhmm(last, m)}` };
    }
  }
  return null;
}

function weekdayPhrase(days: readonly number[], raw: string): string {
  if (days.length === 5 && isContiguous(days) && days[0] === 1) return 'de lunes a viernes';
  if (days.length === 2 && days[0] === 0 && days[1] === 6) return 'los sábados y domingos';
  if (days.length >= 3 && isContiguous(days) && /^[a-z0-9]+-[a-z0-9]+$/i.test(raw.trim())) {
    return `de ${WEEKDAY_ES[days[0]!]} a ${WEEKDAY_ES[days.at(-1)!]}`;
  }
  // Sunday last, as staff read a week.
  const ordered = [...days.filter((d) => d !== 0), ...days.filter((d) => d === 0)];
  return `los ${joinEs(ordered.map((d) => WEEKDAY_ES_PLURAL[d]!))}`;
}

function monthList(months: readonly number[]): string {
  if (months.length >= 3 && isContiguous(months)) {
    return `de ${MONTH_ES[months[0]!]} a ${MONTH_ES[months.at(-1)!]}`;
  }
  return `de ${joinEs(months.map((m) => MONTH_ES[m]!))}`;
}

/** `main` says which days; `condition` is celery's extra weekday test when both day fields are restricted. */
function dayPhrase(c: CompiledCrontab): { main: string; condition: string } | null {
  const { day_of_month: doms, month_of_year: months, day_of_week: weekdays } = c.values;
  const allDoms = doms.length === 31;
  const allMonths = months.length === 12;
  const allWeekdays = weekdays.length === 7;

  if (allDoms && allWeekdays)
    return { main: allMonths ? '' : `todos los días ${monthList(months)}`, condition: '' };
  if (allDoms) {
    const phrase = weekdayPhrase(weekdays, c.source.dayOfWeek);
    if (allMonths) return { main: phrase, condition: '' };
    const monthPart =
      months.length >= 3 && isContiguous(months)
        ? monthList(months)
        : `en ${joinEs(months.map((m) => MONTH_ES[m]!))}`;
    return { main: `${phrase}, ${monthPart}`, condition: '' };
  }
  if (doms.length > 5 && !isContiguous(doms)) return null;
  const days =
    doms.length > 5
      ? `del día ${doms[0]} al ${doms.at(-1)}`
      : doms.length === 1
        ? `el día ${doms[0]}`
        : `los días ${joinEs(doms.map(String))}`;
  const monthPart = allMonths
    ? 'de cada mes'
    : months.length >= 3 && isContiguous(months)
      ? `de cada mes, ${monthList(months)}`
      : monthList(months);
  // Celery requires both day fields to match, so the weekday is a further condition, not an alternative.
  const condition = allWeekdays
    ? ''
    : `solo si es ${joinEs(
        weekdays.map((d) => WEEKDAY_ES[d]!),
        'o',
      )}`;
  return { main: `${days} ${monthPart}`, condition };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A Spanish description of a crontab, e.g. `Todos los días a las 02:00 (America/Argentina/Cordoba)` or
 * `Cada 30 minutos, de lunes a viernes (America/Argentina/Cordoba)`; falls back to django-celery-beat's
 * `0 2 * * * (m/h/dM/MY/d) <zone>` when no natural phrase fits.
 * @throws ScheduleValidationError when the crontab is invalid.
 */
export function describeCrontab(schedule: CrontabSchedule): string {
  const compiled = compileCrontab(schedule);
  const time = compiled.possible ? timePhrase(compiled) : null;
  const days = dayPhrase(compiled);
  if (time === null || days === null) return crontabRawText(compiled.source);
  const zone = ` (${compiled.zone})`;
  const condition = days.condition === '' ? '' : `, ${days.condition}`;
  if (time.kind === 'at') {
    return `${capitalise(days.main === '' ? 'todos los días' : days.main)} ${time.text}${condition}${zone}`;
  }
  return `${time.text}${days.main === '' ? '' : `, ${days.main}`}${condition}${zone}`;
}
