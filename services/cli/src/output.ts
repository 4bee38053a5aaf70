/**
 * `lucy dashboard | head -6`: once the reader closes the pipe, a write fails with EPIPE. That is the reader saying
 * it has enough, so the command ends quietly (exit 0) instead of printing a stack trace.
 */
export function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** Prints rows as an aligned table, or as JSON with --json. */
export function printRows(
  rows: Array<Record<string, unknown>>,
  options: { json?: boolean; columns?: string[] },
): void {
  if (options.json) {
    process.stdout.write(`${toJsonText(rows, 2)}\n`);
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
    process.stdout.write(`${toJsonText(obj, 2)}\n`);
    return;
  }
  for (const [k, v] of Object.entries(obj)) process.stdout.write(`${k}: ${cell(v)}\n`);
}

const ZONE = 'America/Argentina/Cordoba';
const localFormat = new Intl.DateTimeFormat('es-AR', {
  timeZone: ZONE,
  dateStyle: 'short',
  timeStyle: 'medium',
});
const partsFormat = new Intl.DateTimeFormat('en-US', {
  timeZone: ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** Formats an instant in America/Argentina/Cordoba, as staff read times (tables). */
export function localTime(d: Date | undefined): string {
  if (!d) return '';
  return localFormat.format(d);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/**
 * An instant as ISO 8601 with Córdoba's offset (`2026-12-06T00:34:28.000-03:00`): what `--json` prints, exact
 * for machines and still the local wall time for a person reading it.
 */
export function isoTime(d: Date): string {
  const p = Object.fromEntries(partsFormat.formatToParts(d).map((x) => [x.type, x.value]));
  const wall = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
  const offset = Math.round((wall - (d.getTime() - d.getUTCMilliseconds())) / 60_000);
  const abs = Math.abs(offset);
  const sign = offset < 0 ? '-' : '+';
  return (
    `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}.${pad(d.getUTCMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** Any value as `--json` prints it (see {@link jsonReplacer}). */
export function toJsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, jsonReplacer, indent) ?? 'null';
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (v instanceof Date) return localTime(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return v.toString();
  return JSON.stringify(v, jsonReplacer) ?? '';
}

/**
 * JSON for machines: instants (a Date, or a protobuf Timestamp inside an RPC answer) as ISO 8601 with offset,
 * 64-bit integers as numbers, without protobuf-es's `$typeName` bookkeeping.
 */
function jsonReplacer(this: unknown, k: string, v: unknown): unknown {
  if (k === '$typeName') return undefined;
  // JSON.stringify has already applied Date#toJSON (UTC) to `v`; the holder still has the Date.
  const original = (this as Record<string, unknown> | undefined)?.[k];
  if (original instanceof Date) return isoTime(original);
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && (v as { $typeName?: string }).$typeName === 'google.protobuf.Timestamp') {
    const t = v as { seconds: bigint; nanos: number };
    return isoTime(new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1_000_000)));
  }
  return v;
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
