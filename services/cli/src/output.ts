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
