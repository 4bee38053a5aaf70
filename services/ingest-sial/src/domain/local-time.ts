/**
 * Calendar fields of an instant in a named time zone, through Intl (full ICU ships with Node 20). Staff read
 * times in America/Argentina/Cordoba; SIAL interprets its path dates in that zone too.
 */

/** The time zone staff and SIAL use. */
export const DEFAULT_TIME_ZONE = 'America/Argentina/Cordoba';

/** Local calendar fields; month 1–12, hour 0–23. */
export interface LocalParts {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * The calendar fields of `date` in `timeZone`.
 * @throws RangeError for an unknown time zone or an invalid date.
 */
export function localParts(date: Date, timeZone: string = DEFAULT_TIME_ZONE): LocalParts {
  if (Number.isNaN(date.getTime())) throw new RangeError('Invalid Date');
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(date)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return {
    year: fields.year ?? 0,
    month: fields.month ?? 0,
    day: fields.day ?? 0,
    hour: fields.hour ?? 0,
    minute: fields.minute ?? 0,
    second: fields.second ?? 0,
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD HH:MM` in `timeZone`, the way staff read times in messages. */
export function formatLocalDateTime(date: Date, timeZone: string = DEFAULT_TIME_ZONE): string {
  const p = localParts(date, timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}`;
}
