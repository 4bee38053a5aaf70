/**
 * Bounds of every RPC input of ingest-sial, in one place: a value is refused here, with the field named in Spanish
 * (InvalidArgument), before it reaches a query, a column or a loop — never as Internal from Postgres.
 */
import type { FieldError } from '@lucy/platform';

/** Characters of a search text: a 10 MB one cost 1.8 s a call in six ILIKEs. */
export const MAX_SEARCH = 200;
/** `Log.usuario` and `actualizado_por` are varchar(150). */
export const MAX_REQUESTED_BY = 150;
/** Ids in one filter. */
export const MAX_FILTER_IDS = 500;
/** Page tokens are short base64url offsets. */
export const MAX_PAGE_TOKEN = 64;
/** Deepest offset a page token may carry. */
export const MAX_OFFSET = 10_000_000;
/** SIAL requests per second: 0 = no limit, else at least this (a smaller rate would stall a run for days). */
export const MIN_SIAL_RATE = 0.1;
export const MAX_SIAL_RATE = 10_000;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Checks a text input: at most `max` characters, no NUL or other control character, no invalid code point.
 * Pushes one Spanish error naming `field` (the value is never echoed: it may be megabytes) and returns whether
 * the value is acceptable.
 */
export function checkText(problems: FieldError[], field: string, value: string, max: number): boolean {
  if (value.length > max) {
    problems.push({ field, message: `Admite como máximo ${max} caracteres (llegaron ${value.length}).` });
    return false;
  }
  if (CONTROL.test(value) || LONE_SURROGATE.test(value)) {
    problems.push({ field, message: 'Contiene caracteres no válidos (NUL o de control).' });
    return false;
  }
  return true;
}

/** Checks the number of items of a repeated field. */
export function checkCount(problems: FieldError[], field: string, count: number, max: number): boolean {
  if (count <= max) return true;
  problems.push({ field, message: `Admite como máximo ${max} elementos (llegaron ${count}).` });
  return false;
}

/** Checks the configured SIAL rate: 0 (no limit) or a finite number in [MIN_SIAL_RATE, MAX_SIAL_RATE]. */
export function checkSialRate(problems: FieldError[], field: string, rate: number): boolean {
  if (rate === 0 || (Number.isFinite(rate) && rate >= MIN_SIAL_RATE && rate <= MAX_SIAL_RATE)) return true;
  problems.push({
    field,
    message: `Debe ser 0 (sin límite) o un número entre ${String(MIN_SIAL_RATE).replace('.', ',')} y ${MAX_SIAL_RATE.toLocaleString('es-AR')} solicitudes por segundo.`,
  });
  return false;
}
