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

/** Loads the stored alumnos of a batch of documents, keyed `"<tipo_documento> <dni>"`, one query per 10 000. */
export async function loadAlumnosByDocument(
  knex: Knex,
  documents: readonly { tipo_documento: string; dni: string }[],
): Promise<Map<string, StoredAlumno>> {
  const out = new Map<string, StoredAlumno>();
  for (let i = 0; i < documents.length; i += 10_000) {
    const chunk = documents.slice(i, i + 10_000);
    const rows = (await alumnoTable(knex)
      .select(alumnoColumns(knex))
      .whereIn(
        ['tipo_documento', 'dni'],
        chunk.map((d) => [d.tipo_documento, d.dni]),
      )) as Record<string, unknown>[];
    for (const row of rows) {
      const a = toStoredAlumno(row);
      out.set(key(a.tipo_documento, a.dni), a);
    }
  }
  return out;
}

export const documentKey = key;

/**
 * Multi-row `INSERT … ON CONFLICT (tipo_documento, dni) DO UPDATE` in chunks: writes the ingestion-owned fields
 * and merges this tipo's fingerprint into `fingerprints`; never touches e-mail institucional nor the flags.
 */
export async function upsertAlumnos(
  knex: Knex,
  rows: readonly AlumnoUpsert[],
  chunkSize = 1000,
): Promise<void> {
  for (let i = 0; i < rows.length; i += chunkSize) {
    const chunk = rows.slice(i, i + chunkSize).map((r) => ({
      id: r.id,
      ...r.values,
      carreras: r.values.carreras === null ? null : JSON.stringify(r.values.carreras),
      fingerprints: JSON.stringify(r.fingerprint ? { [r.fingerprint.tipo]: r.fingerprint.value } : {}),
      created_at: r.now,
      updated_at: r.now,
    }));
    const merge: Record<string, Knex.Raw> = {};
    for (const column of [
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
    ]) {
      merge[column] = knex.raw('??', [`excluded.${column}`]);
    }
    merge.fingerprints = knex.raw('alumno.fingerprints || excluded.fingerprints');
    // Estado only moves forward, also when two runs of different tipos race on the same alumno.
    merge.estado = knex.raw(
      `case when array_position(?::text[], excluded.estado) > coalesce(array_position(?::text[], alumno.estado), 0)
        then excluded.estado else alumno.estado end`,
      [ESTADOS_ORDER, ESTADOS_ORDER],
    );
    await alumnoTable(knex).insert(chunk).onConflict(['tipo_documento', 'dni']).merge(merge);
  }
}
