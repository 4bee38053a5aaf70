import type { Knex } from '@mikro-orm/postgresql';
import {
  ESTADOS,
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

/** The ingestion-owned columns an upsert overwrites on conflict (never e-mail institucional nor the flags). */
const MERGED_COLUMNS = [
  'nombre',
  'apellido',
  'email_personal',
  'fecha_nacimiento',
  'cohorte',
  'localidad',
  'telefono',
  'fecha_ingreso',
  'estado_ingreso',
  'modalidad',
  'carreras',
  'updated_at',
] as const;

/** Column types of the JSON rows {@link upsertAlumnos} sends (the table's, so Postgres casts once). */
const RECORDSET = `r(
  id uuid, tipo_documento text, dni text, nombre text, apellido text, email_personal text, fecha_nacimiento date,
  cohorte int, localidad text, telefono text, estado text, fecha_ingreso date, estado_ingreso text, modalidad text,
  carreras jsonb, fingerprints jsonb, created_at timestamptz, updated_at timestamptz)`;

const UPSERT_SQL = `
  insert into ingest.alumno as alumno (id, tipo_documento, dni, nombre, apellido, email_personal, fecha_nacimiento,
    cohorte, localidad, telefono, estado, fecha_ingreso, estado_ingreso, modalidad, carreras, fingerprints,
    created_at, updated_at)
  select id, tipo_documento, dni, nombre, apellido, email_personal, fecha_nacimiento, cohorte, localidad, telefono,
    estado, fecha_ingreso, estado_ingreso, modalidad, carreras, fingerprints, created_at, updated_at
  from jsonb_to_recordset(?::jsonb) as ${RECORDSET}
  on conflict (tipo_documento, dni) do update set
    ${MERGED_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')},
    fingerprints = alumno.fingerprints || excluded.fingerprints,
    -- Estado only moves forward, also when two runs of different tipos race on the same alumno.
    estado = case
      when array_position('${ESTADOS_ORDER}'::text[], excluded.estado)
        > coalesce(array_position('${ESTADOS_ORDER}'::text[], alumno.estado), 0)
      then excluded.estado else alumno.estado end`;

/**
 * Bulk `INSERT … ON CONFLICT (tipo_documento, dni) DO UPDATE` in chunks: writes the ingestion-owned fields and
 * merges this tipo's fingerprint into `fingerprints`; never touches e-mail institucional nor the flags.
 *
 * Each chunk travels as one JSON parameter expanded by `jsonb_to_recordset`: one small statement Postgres parses
 * once, instead of a multi-row VALUES list with ~18 placeholders per row (bench/ingest-upsert.bench.ts measured
 * the difference; see docs/benchmarks.md).
 * @param chunkSize rows per statement; default 5000.
 */
export async function upsertAlumnos(
  knex: Knex,
  rows: readonly AlumnoUpsert[],
  chunkSize = 5000,
): Promise<void> {
  for (let i = 0; i < rows.length; i += chunkSize) {
    const chunk = rows.slice(i, i + chunkSize).map((r) => ({
      id: r.id,
      ...r.values,
      fingerprints: r.fingerprint ? { [r.fingerprint.tipo]: r.fingerprint.value } : {},
      created_at: r.now.toISOString(),
      updated_at: r.now.toISOString(),
    }));
    await knex.raw(UPSERT_SQL, [JSON.stringify(chunk)]);
  }
}
