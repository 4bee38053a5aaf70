/**
 * SIAL's local time: America/Argentina/Cordoba, which has been UTC−3 without DST since 2009, so a fixed offset is
 * exact for every date the fake produces or accepts.
 */
const OFFSET_MS = -3 * 60 * 60 * 1000;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** Calendar fields of an instant in Córdoba local time. */
function localFields(ms: number): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const local = new Date(ms + OFFSET_MS);
  return {
    y: local.getUTCFullYear(),
    mo: local.getUTCMonth() + 1,
    d: local.getUTCDate(),
    h: local.getUTCHours(),
    mi: local.getUTCMinutes(),
    s: local.getUTCSeconds(),
  };
}

/** `dd/mm/YYYY HH:MM:SS` in Córdoba time, the shape of `fecha_inscri`. */
export function formatFechaInscri(ms: number): string {
  const f = localFields(ms);
  return `${pad(f.d)}/${pad(f.mo)}/${f.y} ${pad(f.h)}:${pad(f.mi)}:${pad(f.s)}`;
}

/** `dd/mm/yy`, the shape of `fecha_natal`. */
export function formatFechaNatal(y: number, mo: number, d: number): string {
  return `${pad(d)}/${pad(mo)}/${pad(y % 100)}`;
}

/** Year, month (1–12) of an instant in Córdoba time. */
export function localYearMonth(ms: number): { year: number; month: number } {
  const f = localFields(ms);
  return { year: f.y, month: f.mo };
}

/** `AAAAMMDDHHMM` of an instant in Córdoba time (used by tests and the state endpoint). */
export function formatSialPathDate(ms: number): string {
  const f = localFields(ms);
  return `${f.y}${pad(f.mo)}${pad(f.d)}${pad(f.h)}${pad(f.mi)}`;
}

/** A path date as an inclusive instant range: a 12-digit date covers its minute, an 8-digit one its day. */
export interface PathDate {
  /** First millisecond covered (UTC epoch ms). */
  readonly start: number;
  /** Last millisecond covered (UTC epoch ms). */
  readonly end: number;
}

/**
 * Parses `AAAAMMDDHHMM` or `AAAAMMDD` as Córdoba local time; undefined when the text is not one of those or not a
 * real calendar date/time (20250231, 202501012460).
 */
export function parseSialPathDate(text: string): PathDate | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis] = m;
  const y = Number(ys);
  const mo = Number(mos);
  const d = Number(ds);
  const h = hs === undefined ? 0 : Number(hs);
  const mi = mis === undefined ? 0 : Number(mis);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59) return undefined;
  const utc = Date.UTC(y, mo - 1, d, h, mi);
  if (new Date(utc).getUTCDate() !== d) return undefined;
  const start = utc - OFFSET_MS;
  const span = hs === undefined ? DAY_MS : MINUTE_MS;
  return { start, end: start + span - 1 };
}
