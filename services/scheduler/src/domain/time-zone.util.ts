/**
 * Time-zone arithmetic on top of Intl, without a date library.
 *
 * Intl is asked once per zone and UTC year (a daily scan, refined by bisection to the second) and the answer
 * is kept as a short table of offset transitions, so the hot paths (`offsetAt`, `zoneSegmentAt`) are a few
 * array reads instead of a ~1 µs `Intl.DateTimeFormat#format` each. The scan assumes a zone does not change
 * its offset twice within one day, which holds for every zone since 1970.
 *
 * A "wall" value is a local date-time encoded as if it were UTC epoch milliseconds: the wall time
 * 2026-03-29 02:30 is `Date.UTC(2026, 2, 29, 2, 30)`. Crontab matching works on wall values with the fast
 * UTC getters and never needs to know which zone it is in.
 */

/** The zone of the university, used when a crontab or a display does not name one. */
export const DEFAULT_TIME_ZONE = 'America/Argentina/Cordoba';

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** One change of UTC offset in a zone. Offsets in ms, positive east of Greenwich. */
export interface ZoneTransition {
  /** First instant (epoch ms) with the new offset. */
  at: number;
  offsetBefore: number;
  offsetAfter: number;
}

/**
 * The stretch of time around an instant during which a zone keeps one offset, with the offsets on either side.
 * Either end may be a pseudo-boundary with the same offset on both sides (`prevOffset === offset`,
 * `nextOffset === offset`) when no transition is known within about a year: `start` is then the start of the
 * previous UTC year and `end` the start of the UTC year after next.
 */
export interface ZoneSegment {
  offset: number;
  start: number;
  prevOffset: number;
  end: number;
  nextOffset: number;
}

interface ZoneYear {
  startOffset: number;
  transitions: ZoneTransition[];
}

const PARTS = /^(\d{1,2})\/(\d{1,2})\/(\d+), (\d{2}):(\d{2}):(\d{2})$/;
const MAX_CACHED_YEARS = 20_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const zoneYears = new Map<string, ZoneYear>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/**
 * Builds a wall value from calendar fields, including years 0–99 (which `Date.UTC` would read as 1900–1999).
 * @param month 1–12.
 */
export function wallFromFields(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): number {
  if (year >= 100) return Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  date.setUTCFullYear(year + date.getUTCFullYear() - 2000);
  return date.getTime();
}

/**
 * Whether Intl knows the IANA zone name (case as Intl accepts it). Fixed offsets such as `+03:00` are
 * rejected by Node 20's Intl and so are rejected here.
 */
export function isValidTimeZone(zone: unknown): boolean {
  if (typeof zone !== 'string' || zone.length === 0 || zone.trim() !== zone) return false;
  try {
    formatterFor(zone);
    return true;
  } catch (_error) {
    return false;
  }
}

function intlOffset(zone: string, instant: number): number {
  const second = Math.floor(instant / SECOND_MS) * SECOND_MS;
  const match = PARTS.exec(formatterFor(zone).format(second));
  if (match === null) throw new RangeError(`Instante fuera del rango admitido: ${second}`);
  const [, month, day, year, hour, minute, sec] = match.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return wallFromFields(year, month, day, hour, minute, sec) - second;
}

function utcYear(instant: number): number {
  return new Date(instant).getUTCFullYear();
}

function zoneYear(zone: string, year: number): ZoneYear {
  const key = `${zone}\u0000${year}`;
  const cached = zoneYears.get(key);
  if (cached !== undefined) return cached;

  const start = wallFromFields(year, 1, 1);
  const end = wallFromFields(year + 1, 1, 1);
  const startOffset = intlOffset(zone, start);
  const transitions: ZoneTransition[] = [];
  let low = start;
  let lowOffset = startOffset;
  while (low < end) {
    const high = Math.min(low + DAY_MS, end);
    const highOffset = intlOffset(zone, high);
    if (highOffset === lowOffset) {
      low = high;
      continue;
    }
    let a = low;
    let b = high;
    while (b - a > SECOND_MS) {
      const mid = a + Math.floor((b - a) / (2 * SECOND_MS)) * SECOND_MS;
      if (intlOffset(zone, mid) === lowOffset) a = mid;
      else b = mid;
    }
    const offsetAfter = intlOffset(zone, b);
    transitions.push({ at: b, offsetBefore: lowOffset, offsetAfter });
    // Rescan from the transition itself: cheap, and correct even if the day held a second change.
    low = b;
    lowOffset = offsetAfter;
  }

  if (zoneYears.size >= MAX_CACHED_YEARS) zoneYears.clear();
  const result: ZoneYear = { startOffset, transitions };
  zoneYears.set(key, result);
  return result;
}

/** UTC offset of `zone` at `instant`, in ms (−3 h → −10 800 000). The zone must be valid. */
export function offsetAt(zone: string, instant: number): number {
  const table = zoneYear(zone, utcYear(instant));
  let offset = table.startOffset;
  for (const transition of table.transitions) {
    if (transition.at > instant) break;
    offset = transition.offsetAfter;
  }
  return offset;
}

/** The wall value (see the module comment) of `instant` in `zone`. */
export function wallAt(zone: string, instant: number): number {
  return instant + offsetAt(zone, instant);
}

const lastSegments = new Map<string, ZoneSegment>();

/** The constant-offset segment of `zone` that contains `instant`, with its neighbours. */
export function zoneSegmentAt(zone: string, instant: number): ZoneSegment {
  const last = lastSegments.get(zone);
  if (last !== undefined && last.start <= instant && instant < last.end) return last;
  const segment = computeSegment(zone, instant);
  lastSegments.set(zone, segment);
  return segment;
}

function computeSegment(zone: string, instant: number): ZoneSegment {
  const year = utcYear(instant);
  const current = zoneYear(zone, year);
  let previous: ZoneTransition | undefined;
  let next: ZoneTransition | undefined;
  for (const transition of current.transitions) {
    if (transition.at <= instant) previous = transition;
    else {
      next = transition;
      break;
    }
  }
  const offset = previous?.offsetAfter ?? current.startOffset;
  previous ??= zoneYear(zone, year - 1).transitions.at(-1);
  next ??= zoneYear(zone, year + 1).transitions[0];
  return {
    offset,
    start: previous?.at ?? wallFromFields(year - 1, 1, 1),
    prevOffset: previous?.offsetBefore ?? offset,
    end: next?.at ?? wallFromFields(year + 2, 1, 1),
    nextOffset: next?.offsetAfter ?? offset,
  };
}

/**
 * Offset transitions of `zone` in [from, to), read from Intl (so from the tz database Node ships with).
 * @param from inclusive.
 * @param to exclusive; spans of more than 1000 years are refused.
 */
export function zoneTransitions(zone: string, from: Date, to: Date): ZoneTransition[] {
  const fromMs = from.getTime();
  const toMs = to.getTime();
  if (!isValidTimeZone(zone)) throw new RangeError(`Zona horaria desconocida «${zone}»`);
  if (!(toMs - fromMs <= 1000 * 366 * DAY_MS)) throw new RangeError('Rango de fechas inválido');
  const result: ZoneTransition[] = [];
  for (let year = utcYear(fromMs); year <= utcYear(toMs); year++) {
    for (const transition of zoneYear(zone, year).transitions) {
      if (transition.at >= fromMs && transition.at < toMs) result.push({ ...transition });
    }
  }
  return result;
}

/** Which occurrence of a repeated wall time (fall-back fold) `instant` is, if its wall time repeats. */
export function foldOccurrenceAt(zone: string, instant: number): 'first' | 'second' | null {
  const segment = zoneSegmentAt(zone, instant);
  const wall = instant + segment.offset;
  if (segment.nextOffset < segment.offset && wall >= segment.end + segment.nextOffset) return 'first';
  if (segment.prevOffset > segment.offset && wall < segment.start + segment.prevOffset) return 'second';
  return null;
}

/** `+02:00`, `-03:00`, `+05:45` (seconds appended only for historical offsets that have them). */
export function formatUtcOffset(offsetMs: number): string {
  const sign = offsetMs < 0 ? '-' : '+';
  const total = Math.abs(Math.round(offsetMs / SECOND_MS));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const base = `${sign}${pad2(hours)}:${pad2(minutes)}`;
  return seconds === 0 ? base : `${base}:${pad2(seconds)}`;
}

/** A wall value as `YYYY-MM-DDTHH:mm:ss` (no offset). */
export function formatWallIso(wall: number): string {
  return new Date(wall).toISOString().slice(0, 19);
}

/** A wall value the way staff in Argentina read it: `dd/mm/aaaa hh:mm`. */
export function formatWallEsAr(wall: number): string {
  const date = new Date(wall);
  return (
    `${pad2(date.getUTCDate())}/${pad2(date.getUTCMonth() + 1)}/${date.getUTCFullYear()} ` +
    `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}`
  );
}

/** An instant shown in `zone` for staff: `dd/mm/aaaa hh:mm`. */
export function formatInstantEsAr(zone: string, instant: number): string {
  return formatWallEsAr(wallAt(zone, instant));
}

export function pad2(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}
