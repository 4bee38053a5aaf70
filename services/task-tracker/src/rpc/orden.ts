import { isUuid, type FieldError } from '@lucy/platform';
import { TareaOrden } from '@lucy/proto';
import type { TareaState } from '../domain/projection.js';

/**
 * Sorting of ListTareas by one column, with keyset paging: rows are ordered by (key, scheduled_at, id), all in one
 * direction, and the page token carries the last row's three values plus the column, so the next page is
 * `(key, scheduled_at, id) < (…)` whatever the column — page 10,000 costs what page 1 does.
 * Empty values sort lowest (coalesced to -infinity / ''), so the comparison never meets a NULL.
 */
interface Column {
  /** SQL of the sort key. */
  sql: string;
  /** The `?` cast the cursor's key is bound with. */
  cast: string;
  /** The key of a row, as the cursor stores it. */
  key: (s: TareaState) => string;
  /** Whether a cursor key is a value this column can hold. */
  valid: (k: string) => boolean;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const instant = (k: string) => k === '-infinity' || (ISO_INSTANT.test(k) && !Number.isNaN(Date.parse(k)));
const time = (d: Date | null) => (d ? d.toISOString() : '-infinity');
const word = (k: string) => /^[a-z_]{0,64}$/.test(k);

const COLUMNS: Partial<Record<TareaOrden, Column>> = {
  [TareaOrden.INICIADA]: {
    sql: `coalesce(started_at, '-infinity'::timestamptz)`,
    cast: 'timestamptz',
    key: (s) => time(s.startedAt),
    valid: instant,
  },
  [TareaOrden.FINALIZADA]: {
    sql: `coalesce(finished_at, '-infinity'::timestamptz)`,
    cast: 'timestamptz',
    key: (s) => time(s.finishedAt),
    valid: instant,
  },
  [TareaOrden.TIPO]: { sql: `coalesce(tipo, '')`, cast: 'text', key: (s) => s.tipo ?? '', valid: word },
  [TareaOrden.ESTADO]: { sql: `estado`, cast: 'text', key: (s) => s.estado, valid: word },
  [TareaOrden.DURACION]: {
    sql: `duration_ms`,
    cast: 'bigint',
    key: (s) => String(s.durationMs),
    valid: (k) => /^-?\d{1,15}$/.test(k),
  },
};

/** The ORDER BY and keyset condition of one ListTareas call. */
export interface CompiledOrder {
  orderBy: string;
  /** The `where` term and bindings that start after the cursor, when there is one. */
  after?: { sql: string; bindings: unknown[] };
  /** The page token that continues after `last`. */
  tokenAfter(last: TareaState): string;
}

/** Compiles the sort of a ListTareas request; a token from another sort (or not ours) is a field error. */
export function compileOrder(
  orden: TareaOrden,
  ascending: boolean,
  token: string,
  problems: FieldError[],
): CompiledOrder {
  const dir = ascending ? 'asc' : 'desc';
  const op = ascending ? '>' : '<';
  const col = COLUMNS[orden];
  if (orden !== TareaOrden.UNSPECIFIED && orden !== TareaOrden.PROGRAMADA && !col) {
    problems.push({ field: 'orden', message: `El orden (orden) ${orden} no es válido` });
  }
  const tag = col ? orden : TareaOrden.UNSPECIFIED;
  const out: CompiledOrder = {
    orderBy: col ? `${col.sql} ${dir}, scheduled_at ${dir}, id ${dir}` : `scheduled_at ${dir}, id ${dir}`,
    tokenAfter: (last) =>
      Buffer.from(
        JSON.stringify(
          col
            ? [last.scheduledAt.toISOString(), last.id, col.key(last), tag]
            : [last.scheduledAt.toISOString(), last.id],
        ),
      ).toString('base64url'),
  };
  if (!token) return out;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (!Array.isArray(parsed)) throw new Error('bad');
    const [at, id, key, t] = parsed;
    if (typeof at !== 'string' || !instant(at) || at === '-infinity' || typeof id !== 'string' || !isUuid(id))
      throw new Error('bad');
    if (col) {
      if (t !== tag || typeof key !== 'string' || !col.valid(key)) throw new Error('bad');
      out.after = {
        sql: `(${col.sql}, scheduled_at, id) ${op} (?::${col.cast}, ?::timestamptz, ?::uuid)`,
        bindings: [key, at, id],
      };
    } else {
      if (parsed.length !== 2) throw new Error('bad');
      out.after = { sql: `(scheduled_at, id) ${op} (?::timestamptz, ?::uuid)`, bindings: [at, id] };
    }
  } catch {
    problems.push({
      field: 'page.pageToken',
      message: 'El token de página no es válido; vuelva a pedir la primera página',
    });
  }
  return out;
}
