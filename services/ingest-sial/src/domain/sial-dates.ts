/**
 * The date texts SIAL sends. Results are calendar dates (`YYYY-MM-DD`), free of time zones: a birth date or an
 * inscription day is the same day wherever it is read.
 */

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `YYYY-MM-DD` when (y, m, d) is a real calendar date, else undefined (31/02, 29/02 of a common year…). */
function isoDate(y: number, m: number, d: number): string | undefined {
  if (m < 1 || m > 12 || d < 1) return undefined;
  const check = new Date(Date.UTC(2000, m - 1, d));
  check.setUTCFullYear(y);
  if (check.getUTCMonth() !== m - 1 || check.getUTCDate() !== d) return undefined;
  return `${pad(y, 4)}-${pad(m)}-${pad(d)}`;
}

/**
 * Python's `%y` pivot, which the original used and which existing data follows: 69–99 → 1969–1999,
 * 00–68 → 2000–2068.
 */
export function pivotTwoDigitYear(yy: number): number {
  return yy >= 69 ? 1900 + yy : 2000 + yy;
}

/**
 * `fecha_natal` of the personal data, `dd/mm/yy` (two-digit year, Python pivot). `dd/mm/YYYY` is accepted too.
 * Returns `YYYY-MM-DD`, or undefined when the text is not a real date.
 */
export function parseFechaNatal(text: string): string | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, mo, y] = m as unknown as [string, string, string, string];
  const year = y.length === 2 ? pivotTwoDigitYear(Number(y)) : Number(y);
  return isoDate(year, Number(mo), Number(d));
}

/** A parsed `fecha_inscri`. */
export interface FechaInscri {
  /** `YYYY-MM-DD`. */
  readonly date: string;
  readonly year: number;
}

/**
 * `fecha_inscri` of a carrera: `dd/mm/YYYY HH:MM:SS` (also `dd/mm/YYYY HH:MM` and `dd/mm/YYYY`). Only the day is
 * kept (fecha_ingreso is a date); the time is still validated so garbage is reported, not silently truncated.
 */
export function parseFechaInscri(text: string): FechaInscri | undefined {
  const m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return undefined;
  const [, d, mo, y, h, mi, s] = m;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59)) return undefined;
  const year = Number(y);
  const date = isoDate(year, Number(mo), Number(d));
  return date === undefined ? undefined : { date, year };
}
