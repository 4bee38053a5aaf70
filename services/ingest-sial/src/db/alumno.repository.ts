import type { Knex } from '@mikro-orm/postgresql';
import {
  ESTADOS,
  MERGED_FIELDS,
  type AlumnoIngestFields,
  type Estado,
  type JsonObject,
  type Tipo,
} from '../domain/index.js';

const ESTADOS_ORDER = `{${ESTADOS.join(',')}}`;

/** An alumno as read from `ingest.alumno` (snake_case, dates as `YYYY-MM-DD` text). */
export interface StoredAlumno extends AlumnoIngestFields {
  id: string;
  email_institucional: string | null;
  teams_procesado: boolean;
  moodle_procesado: boolean;
  email_procesado: boolean;
  fingerprints: Partial<Record<Tipo, string>>;
  created_at: Date;
  updated_at: Date;
}

/** A row to upsert: the ingestion-owned fields, the id for a new row and this tipo's fingerprint (when any). */
export interface AlumnoUpsert {
  id: string;
  values: AlumnoIngestFields;
  fingerprint: { tipo: Tipo; value: string } | undefined;
  /** created_at of a new row and updated_at. */
  now: Date;
}

/** Every column, with dates as text so the pg driver does not shift them to local midnight. */
export const alumnoColumns = (knex: Knex): (string | Knex.Raw)[] => [
  'id',
  'tipo_documento',
  'dni',
  'nombre',
  'apellido',
  'email_personal',
  'email_institucional',
  knex.raw('fecha_nacimiento::text as fecha_nacimiento'),
  'cohorte',
  'localidad',
  'telefono',
  'estado',
  knex.raw('fecha_ingreso::text as fecha_ingreso'),
  'estado_ingreso',
  'modalidad',
  'carreras',
  'teams_procesado',
  'moodle_procesado',
  'email_procesado',
  'fingerprints',
  'created_at',
  'updated_at',
];

export const alumnoTable = (knex: Knex) => knex.withSchema('ingest').table('alumno');

const asDate = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

/** Normalises a row read with {@link ALUMNO_COLUMNS}. */
export function toStoredAlumno(row: Record<string, unknown>): StoredAlumno {
  return {
    id: String(row.id),
    tipo_documento: String(row.tipo_documento),
    dni: String(row.dni),
    nombre: (row.nombre as string | null) ?? null,
    apellido: (row.apellido as string | null) ?? null,
    email_personal: (row.email_personal as string | null) ?? null,
    email_institucional: (row.email_institucional as string | null) ?? null,
    fecha_nacimiento: (row.fecha_nacimiento as string | null) ?? null,
    cohorte: row.cohorte === null || row.cohorte === undefined ? null : Number(row.cohorte),
    localidad: (row.localidad as string | null) ?? null,
    telefono: (row.telefono as string | null) ?? null,
    estado: row.estado as Estado,
    fecha_ingreso: (row.fecha_ingreso as string | null) ?? null,
    estado_ingreso: (row.estado_ingreso as string | null) ?? null,
    modalidad: (row.modalidad as string | null) ?? null,
    carreras: (row.carreras as JsonObject[] | null) ?? null,
    teams_procesado: Boolean(row.teams_procesado),
    moodle_procesado: Boolean(row.moodle_procesado),
    email_procesado: Boolean(row.email_procesado),
    fingerprints: (row.fingerprints as Partial<Record<Tipo, string>> | null) ?? {},
    created_at: asDate(row.created_at),
    updated_at: asDate(row.updated_at),
  };
}

const key = (tipoDocumento: string, dni: string) => `${tipoDocumento} ${dni}`;

/**
 * Loads the stored alumnos of a batch of documents, keyed `"<tipo_documento> <dni>"`, one query per 20 000.
 * The documents travel as one JSON parameter joined through `jsonb_to_recordset`: a row-value `IN` list of that
 * size exceeds Postgres's stack depth.
 */
export async function loadAlumnosByDocument(
  knex: Knex,
  documents: readonly { tipo_documento: string; dni: string }[],
): Promise<Map<string, StoredAlumno>> {
  const out = new Map<string, StoredAlumno>();
  for (let i = 0; i < documents.length; i += 20_000) {
    const chunk = documents.slice(i, i + 20_000).map((d) => ({ t: d.tipo_documento, d: d.dni }));
    const rows = (await alumnoTable(knex)
      .select(alumnoColumns(knex))
      .joinRaw(
        'join jsonb_to_recordset(?::jsonb) as doc(t text, d text) on doc.t = alumno.tipo_documento and doc.d = alumno.dni',
        [JSON.stringify(chunk)],
      )) as Record<string, unknown>[];
    for (const row of rows) {
      const a = toStoredAlumno(row);
      out.set(key(a.tipo_documento, a.dni), a);
    }
  }
  return out;
}

export const documentKey = key;

/** The document types stored for each of these numbers (`dni` → tipos), for records SIAL sent without tipodoc. */
export async function documentTypesByNumber(
  knex: Knex,
  numbers: readonly string[],
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (numbers.length === 0) return out;
  const rows = await pgQuery(
    knex,
    'select tipo_documento, dni from ingest.alumno where dni = any($1::text[]) order by tipo_documento',
    [numbers],
  );
  for (const row of rows) {
    const dni = String(row.dni);
    out.set(dni, [...(out.get(dni) ?? []), String(row.tipo_documento)]);
  }
  return out;
}

/** A pg client checked out of knex's pool (the driver's `query`, which sends JS arrays as Postgres arrays). */
interface PgConnection {
  query(text: string, values: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Runs `fn` with a connection checked out of knex's pool. */
async function withConnection<T>(knex: Knex, fn: (conn: PgConnection) => Promise<T>): Promise<T> {
  const client = knex.client as {
    acquireConnection(): Promise<PgConnection>;
    releaseConnection(c: PgConnection): Promise<void>;
  };
  const conn = await client.acquireConnection();
  try {
    return await fn(conn);
  } finally {
    await client.releaseConnection(conn);
  }
}

/** Runs one parameterised statement on a pooled connection (`$1…` placeholders, arrays as Postgres arrays). */
async function pgQuery(
  knex: Knex,
  text: string,
  values: readonly unknown[],
): Promise<Record<string, unknown>[]> {
  return withConnection(knex, async (conn) => (await conn.query(text, values)).rows);
}

/**
 * The rows of a query in batches through a server-side cursor (`DECLARE … NO SCROLL CURSOR` in a read-only
 * transaction on one pooled connection): Postgres sorts once and hands out `batchSize` rows per `FETCH`, so the
 * process holds one batch whatever the total. Stopping the iteration early (a client that went away) closes the
 * transaction and returns the connection.
 */
export async function* cursorRows(
  knex: Knex,
  query: Knex.QueryBuilder,
  batchSize = 1000,
): AsyncGenerator<Record<string, unknown>[]> {
  const { sql, bindings } = query.toSQL().toNative();
  const client = knex.client as {
    acquireConnection(): Promise<PgConnection>;
    releaseConnection(c: PgConnection): Promise<void>;
  };
  const conn = await client.acquireConnection();
  let open = false;
  try {
    await conn.query('begin transaction isolation level repeatable read read only', []);
    open = true;
    await conn.query(`declare export_cursor no scroll cursor for ${sql}`, bindings);
    for (;;) {
      const { rows } = await conn.query(`fetch forward ${Math.trunc(batchSize)} from export_cursor`, []);
      if (rows.length === 0) break;
      yield rows;
      if (rows.length < batchSize) break;
    }
  } finally {
    if (open) await conn.query('rollback', []).catch(() => undefined);
    await client.releaseConnection(conn);
  }
}

// Each document is one probe of the unique (tipo_documento, dni) index: a lateral subquery with `limit 1` (the key
// is unique, so the limit changes nothing but the plan). As a plain join the planner hashes the whole table for
// every page — a sequential scan of 100,000 rows, ~60 ms a 5,000-record page against ~25 ms probed.
const UNCHANGED_SQL = `
  select coalesce(array_agg(doc.i::int - 1), '{}') as positions
  from unnest($1::text[], $2::text[], $3::text[]) with ordinality as doc(t, d, f, i)
  cross join lateral (
    select 1 from ingest.alumno a
    where a.tipo_documento = doc.t and a.dni = doc.d
      and a.fingerprints ->> $4 = doc.f
      and coalesce(a.nombre, '') <> '' and coalesce(a.apellido, '') <> ''
      and coalesce(array_position('${ESTADOS_ORDER}'::text[], a.estado::text), 0)
        >= array_position('${ESTADOS_ORDER}'::text[], $5)
    limit 1
  ) as unchanged`;

/**
 * The positions (0-based, in the given arrays) of list records a run can skip whole: the stored alumno exists, has
 * nombre and apellido, its stored fingerprint for `tipo` equals the record's, and its estado is already at or past
 * `estado`. The fingerprint covers everything a list record carries (tipodoc, nrodoc, carreras), so such a record
 * needs no personal data and merges to `unchanged` (domain/fingerprint.ts, domain/alumno-merge.ts). One statement,
 * three text arrays, one row back: nothing is read or allocated per stored alumno.
 */
export async function findUnchangedPositions(
  knex: Knex,
  tipo: Tipo,
  estado: Estado,
  docs: { tipoDocumento: readonly string[]; dni: readonly string[]; fingerprint: readonly string[] },
): Promise<Set<number>> {
  if (docs.dni.length === 0) return new Set();
  const rows = await pgQuery(knex, UNCHANGED_SQL, [
    docs.tipoDocumento,
    docs.dni,
    docs.fingerprint,
    tipo,
    estado,
  ]);
  return new Set((rows[0]?.positions as number[] | undefined) ?? []);
}

/** The ingestion-owned columns an upsert overwrites on conflict: the merge's fields (column names match). */
const MERGED_COLUMNS = MERGED_FIELDS;

/** Every inserted column with the array type its parameter is sent as (one parameter per column). */
const UPSERT_COLUMNS = [
  ['id', 'uuid'],
  ['tipo_documento', 'text'],
  ['dni', 'text'],
  ['nombre', 'text'],
  ['apellido', 'text'],
  ['email_personal', 'text'],
  ['fecha_nacimiento', 'date'],
  ['cohorte', 'int'],
  ['localidad', 'text'],
  ['telefono', 'text'],
  ['estado', 'text'],
  ['fecha_ingreso', 'date'],
  ['estado_ingreso', 'text'],
  ['modalidad', 'text'],
  ['carreras', 'jsonb'],
  ['fingerprints', 'jsonb'],
  ['created_at', 'timestamptz'],
  ['updated_at', 'timestamptz'],
] as const;

const NEXT_ESTADO = `case
      when array_position('${ESTADOS_ORDER}'::text[], excluded.estado::text)
        > coalesce(array_position('${ESTADOS_ORDER}'::text[], alumno.estado::text), 0)
      then excluded.estado else alumno.estado end`;

const UPSERT_SQL = `
  insert into ingest.alumno as alumno (${UPSERT_COLUMNS.map(([c]) => c).join(', ')})
  select * from unnest(${UPSERT_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')})
  on conflict (tipo_documento, dni) do update set
    ${MERGED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')},
    updated_at = excluded.updated_at,
    fingerprints = alumno.fingerprints || excluded.fingerprints,
    -- Estado only moves forward, also when two runs of different tipos race on the same alumno.
    estado = ${NEXT_ESTADO}
  -- A row that would not change is not rewritten (no new tuple, no index maintenance).
  where (${MERGED_COLUMNS.map((c) => `alumno.${c}`).join(', ')}, alumno.estado)
      is distinct from (${MERGED_COLUMNS.map((c) => `excluded.${c}`).join(', ')}, ${NEXT_ESTADO})
    or not alumno.fingerprints @> excluded.fingerprints`;

/** The chunk as one array per column, the values in the text form Postgres parses for each array type. */
function upsertParams(rows: readonly AlumnoUpsert[]): unknown[][] {
  const cols = UPSERT_COLUMNS.map(() => new Array<unknown>(rows.length));
  rows.forEach((r, i) => {
    const v = r.values;
    const now = r.now.toISOString();
    const row = [
      r.id,
      v.tipo_documento,
      v.dni,
      v.nombre,
      v.apellido,
      v.email_personal,
      v.fecha_nacimiento,
      v.cohorte,
      v.localidad,
      v.telefono,
      v.estado,
      v.fecha_ingreso,
      v.estado_ingreso,
      v.modalidad,
      v.carreras === null ? null : JSON.stringify(v.carreras),
      r.fingerprint ? JSON.stringify({ [r.fingerprint.tipo]: r.fingerprint.value }) : '{}',
      now,
      now,
    ];
    for (let c = 0; c < row.length; c++) cols[c]![i] = row[c];
  });
  return cols;
}

/** The statement {@link upsertAlumnos} sends for one chunk (for EXPLAIN in bench/ingest-explain.ts). */
export function upsertStatement(rows: readonly AlumnoUpsert[]): { text: string; values: unknown[][] } {
  return { text: UPSERT_SQL, values: upsertParams(rows) };
}

/** A row Postgres refused as data (SQLSTATE class 22 or 23) when written alone. */
export interface UpsertRejection {
  row: AlumnoUpsert;
  /** Postgres's message and SQLSTATE, e.g. `value too long for type character varying(100) (22001)`. */
  reason: string;
}

/**
 * Whether Postgres refused a statement for its data (SQLSTATE class 22 "data exception", e.g. a NUL byte or a
 * value too long, or class 23 "integrity constraint violation"): the same rows would fail again, so retrying the
 * run cannot help, while splitting the batch finds the rows at fault.
 */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

const rejectionReason = (err: unknown): string => {
  const e = err as { message?: unknown; code?: unknown };
  return `${String(e.message ?? err)} (${String(e.code)})`;
};

/** One chunk in its own transaction, committed without waiting for the WAL flush (see {@link upsertAlumnos}). */
async function upsertChunk(knex: Knex, rows: readonly AlumnoUpsert[]): Promise<void> {
  await withConnection(knex, async (conn) => {
    await conn.query('begin', []);
    try {
      await conn.query('set local synchronous_commit = off', []);
      await conn.query(UPSERT_SQL, upsertParams(rows));
      await conn.query('commit', []);
    } catch (err) {
      await conn.query('rollback', []).catch(() => undefined);
      throw err;
    }
  });
}

/**
 * Writes a chunk; when Postgres refuses it as data ({@link isDataError}), halves it until the refused rows stand
 * alone, writes every other row and returns the refused ones. A chunk with one bad row costs about
 * 2·log2(chunk) extra statements. Any other failure (connection, deadlock…) is thrown: the run retries.
 */
async function upsertIsolating(
  knex: Knex,
  rows: readonly AlumnoUpsert[],
  rejected: UpsertRejection[],
): Promise<void> {
  try {
    await upsertChunk(knex, rows);
  } catch (err) {
    if (!isDataError(err)) throw err;
    if (rows.length === 1) {
      rejected.push({ row: rows[0]!, reason: rejectionReason(err) });
      return;
    }
    const half = Math.ceil(rows.length / 2);
    await upsertIsolating(knex, rows.slice(0, half), rejected);
    await upsertIsolating(knex, rows.slice(half), rejected);
  }
}

/**
 * Bulk `INSERT … ON CONFLICT (tipo_documento, dni) DO UPDATE … WHERE … IS DISTINCT FROM …` in chunks: writes the
 * ingestion-owned fields and merges this tipo's fingerprint into `fingerprints`; never touches e-mail institucional
 * nor the flags; a row whose values would not change is left alone.
 *
 * Each chunk is one statement whose 18 parameters are typed arrays, one per column, expanded by `unnest` (the
 * driver sends a JS array as a Postgres array literal): cheaper for Postgres to parse than one JSON document through
 * `jsonb_to_recordset`, and far cheaper than a multi-row VALUES list (bench/ingest-upsert.bench.ts; see
 * docs/benchmarks.md). Up to `inFlight` chunks run at once, each on its own pooled connection, so one statement's
 * client-side encoding and round trip overlap another's execution. Each chunk commits with
 * `synchronous_commit = off` (no WAL flush wait per chunk) and the call ends with one synchronous commit, which
 * flushes the WAL past every chunk: when it returns, all rows are durable, as before.
 *
 * Rows are validated against the columns before they get here (domain/column-limits.ts); a row Postgres still
 * refuses as data is isolated by halving its chunk and returned, and every other row is written.
 * @param chunkSize rows per statement; default 1000 (measured best with two in flight: see docs/benchmarks.md).
 * @param inFlight statements at once; default 2.
 * @returns the rows Postgres refused as data, with the reason; empty when every row was written.
 */
export async function upsertAlumnos(
  knex: Knex,
  rows: readonly AlumnoUpsert[],
  chunkSize = 1000,
  inFlight = 2,
): Promise<UpsertRejection[]> {
  const rejected: UpsertRejection[] = [];
  if (rows.length === 0) return rejected;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < rows.length) {
      const start = next;
      next += chunkSize;
      await upsertIsolating(knex, rows.slice(start, start + chunkSize), rejected);
    }
  };
  const workers = Math.max(1, Math.min(inFlight, Math.ceil(rows.length / chunkSize)));
  await Promise.all(Array.from({ length: workers }, worker));
  // One synchronous commit that writes WAL (an xid is assigned) waits until the WAL is flushed up to it, and so
  // makes every chunk above durable: nothing is announced (alumno events, checkpoint) before its rows are on disk.
  await pgQuery(knex, 'select txid_current()', []);
  return rejected;
}
