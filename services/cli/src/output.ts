/** Prints rows as an aligned table, or as JSON with --json. */
export function printRows(
  rows: Array<Record<string, unknown>>,
  options: { json?: boolean; columns?: string[] },
): void {
  if (options.json) {
    process.stdout.write(`${JSON.stringify(rows, jsonReplacer, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write('(sin resultados)\n');
    return;
  }
  const columns = options.columns ?? Object.keys(rows[0]!);
  const cells = rows.map((r) => columns.map((c) => cell(r[c])));
  const widths = columns.map((c, i) =>
    Math.min(60, Math.max(c.length, ...cells.map((row) => row[i]!.length))),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => v.slice(0, widths[i]).padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of cells) process.stdout.write(`${line(row)}\n`);
}

/** Prints one object as key: value lines, or JSON. */
export function printObject(obj: unknown, options: { json?: boolean }): void {
  if (options.json || typeof obj !== 'object' || obj === null) {
    process.stdout.write(`${JSON.stringify(obj, jsonReplacer, 2)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(obj)) process.stdout.write(`${k}: ${cell(v)}\n`);
}

/** Formats an instant in America/Argentina/Cordoba, as staff read times. */
export function localTime(d: Date | undefined): string {
  if (!d) return '';
  return new Intl.DateTimeFormat('es-AR', {
    timeZone: 'America/Argentina/Cordoba',
    dateStyle: 'short',
    timeStyle: 'medium',
  }).format(d);
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (v instanceof Date) return localTime(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v, jsonReplacer) ?? '';
}

function jsonReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** Longest list shown whole by {@link condense}; longer ones show their first items and how many more. */
const LIST_HEAD = 3;
/** Longest string shown whole by {@link condense}. */
const STRING_MAX = 200;

/**
 * A JSON value made short enough to read in a terminal: lists longer than {@link LIST_HEAD} + 2 keep their first
 * {@link LIST_HEAD} items and end with `… y N más`, long strings are cut with `…`. Everything else is kept, so
 * the counters of a Tarea's detalles stay visible next to a dry run's plan of thousands of changes.
 */
export function condense(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.length > LIST_HEAD + 2 ? value.slice(0, LIST_HEAD) : value;
    const shown = items.map(condense);
    return value.length > items.length ? [...shown, `… y ${value.length - items.length} más`] : shown;
  }
  if (typeof value === 'string') return value.length > STRING_MAX ? `${value.slice(0, STRING_MAX)}…` : value;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, condense(v)]));
  return value;
}

/**
 * Prints a JSON document under a label, indented, condensed for reading ({@link condense}); says how to get it
 * whole when anything was left out.
 */
export function printDocument(label: string, value: unknown, wholeWith: string): void {
  if (value === undefined || value === null) {
    process.stdout.write(`${label}:\n`);
    return;
  }
  const whole = JSON.stringify(value, jsonReplacer, 2);
  const shown = JSON.stringify(condense(value), jsonReplacer, 2);
  process.stdout.write(`${label}:\n${shown.replace(/^/gm, '  ')}\n`);
  if (shown !== whole) process.stdout.write(`  (abreviado; completo con: ${wholeWith})\n`);
}
