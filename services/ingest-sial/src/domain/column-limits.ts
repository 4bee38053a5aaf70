/**
 * What `ingest.alumno`'s columns accept, checked on every SIAL value before it reaches the upsert: one value
 * Postgres would refuse (a NUL byte, an unpaired surrogate, a text longer than its varchar) would otherwise fail
 * the whole bulk statement. Applicants type these fields themselves, so such values do arrive.
 */

/** `varchar(n)` limits of the text columns the ingestion writes (Migration20261128000000_init), in characters. */
export const COLUMN_LIMITS = {
  tipo_documento: 20,
  dni: 32,
  nombre: 255,
  apellido: 255,
  email_personal: 255,
  localidad: 255,
  telefono: 100,
  estado_ingreso: 100,
} as const;

// Linear: one character class and a one-character lookaround, no nested quantifier. (String#isWellFormed is
// ES2024, past this project's lib.)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Deepest nesting accepted inside `carreras` (SIAL sends 3: carreras → comisiones → fields). */
const MAX_JSON_DEPTH = 8;

/**
 * Length in characters as Postgres counts them (code points), without building an array: JS `length` counts
 * UTF-16 units, so an emoji is 2 for JS and 1 for a varchar.
 */
function codePointLength(text: string, stopAfter: number): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    if (++n > stopAfter) return n;
  }
  return n;
}

/**
 * Why Postgres would refuse `text` in a UTF-8 text column, in Spanish, or undefined when it is storable: a NUL
 * byte (Postgres text cannot hold one), an unpaired surrogate (not encodable as UTF-8; the driver would silently
 * turn it into U+FFFD), or more characters than the column allows. Linear in the length.
 */
export function textProblem(text: string, max?: number): string | undefined {
  if (text.includes('\u0000')) return 'contiene un carácter nulo (NUL)';
  if (LONE_SURROGATE.test(text)) return 'contiene caracteres Unicode inválidos';
  if (max !== undefined && text.length > max) {
    const length = codePointLength(text, Number.MAX_SAFE_INTEGER);
    if (length > max) return `tiene ${length} caracteres (máximo ${max})`;
  }
  return undefined;
}

/**
 * Why a JSON value bound for a `jsonb` column would be refused, or undefined: `jsonb` rejects `\u0000` and
 * unpaired surrogates in any string, keys included. Depth is bounded so a hostile document cannot recurse deep.
 */
export function jsonProblem(value: unknown, depth = 0): string | undefined {
  if (depth > MAX_JSON_DEPTH) return `anida más de ${MAX_JSON_DEPTH} niveles`;
  if (typeof value === 'string') return textProblem(value);
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = jsonProblem(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const problem = textProblem(k) ?? jsonProblem(v, depth + 1);
      if (problem) return problem;
    }
  }
  return undefined;
}

/**
 * A plausible e-mail address, checked without a backtracking pattern: one `@`, no whitespace, a non-empty local
 * part and a domain with a dot that neither starts nor ends it, at most {@link COLUMN_LIMITS.email_personal}
 * characters. Linear in the length (the former `/^[^\s@]+@[^\s@]+\.[^\s@]+$/` took 2 s on 40,000 characters).
 */
export function isPlausibleEmail(text: string): boolean {
  if (text.length > COLUMN_LIMITS.email_personal) return false;
  if (/\s/.test(text)) return false;
  const at = text.indexOf('@');
  if (at <= 0 || at !== text.lastIndexOf('@')) return false;
  const domain = text.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  return dot > 0 && dot < domain.length - 1 && !domain.startsWith('.');
}
