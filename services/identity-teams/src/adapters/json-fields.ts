/** Readers for fields of untyped JSON answers: a wrong type reads as empty rather than as "[object Object]". */

/** The string, a number as text, or `fallback`. */
export const textField = (value: unknown, fallback = ''): string =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : fallback;

/** The string, or null for anything else. */
export const nullableText = (value: unknown): string | null => (typeof value === 'string' ? value : null);
