/**
 * From validated SIAL records to the Alumno fields the ingestion owns (facts §1.5, without its bugs): no
 * email_institucional, no Teams/Moodle/e-mail state, no password. A value SIAL did not send is left out here, so
 * the merge keeps whatever is stored.
 */
import type { JsonObject } from './json.js';
import type { SialListItem, SialPersonalData } from './sial-record.js';
import type { Estado } from './tipo.js';

/** The Alumno fields the ingestion writes, as stored; `null` = unknown. Dates are `YYYY-MM-DD`. */
export interface AlumnoIngestFields {
  tipo_documento: string;
  dni: string;
  nombre: string | null;
  apellido: string | null;
  email_personal: string | null;
  fecha_nacimiento: string | null;
  cohorte: number | null;
  localidad: string | null;
  telefono: string | null;
  estado: Estado;
  fecha_ingreso: string | null;
  estado_ingreso: string | null;
  /** "1" presencial, "2" distancia. */
  modalidad: string | null;
  /** SIAL's `carreras` array, whole. */
  carreras: JsonObject[] | null;
}

/** Names of the fields the ingestion owns; everything else on an alumno belongs to other services. */
export const INGEST_OWNED_FIELDS = [
  'tipo_documento',
  'dni',
  'nombre',
  'apellido',
  'email_personal',
  'fecha_nacimiento',
  'cohorte',
  'localidad',
  'telefono',
  'estado',
  'fecha_ingreso',
  'estado_ingreso',
  'modalidad',
  'carreras',
] as const satisfies readonly (keyof AlumnoIngestFields)[];

/** What one SIAL record says about an alumno; a field is absent when SIAL sent nothing usable. */
export interface IncomingAlumno {
  readonly tipo_documento: string;
  readonly dni: string;
  readonly nombre?: string;
  readonly apellido?: string;
  readonly email_personal?: string;
  readonly fecha_nacimiento?: string;
  readonly cohorte?: number;
  readonly localidad?: string;
  readonly telefono?: string;
  readonly fecha_ingreso?: string;
  readonly estado_ingreso?: string;
  readonly modalidad?: '1' | '2';
  /** Absent when SIAL sent an empty list: an empty `carreras` never replaces stored ones. */
  readonly carreras?: JsonObject[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Maps a list record and its personal data (`null` when they could not be fetched or were not needed) to the
 * incoming values. cohorte: `carreras[0].cohorte`, else the year of `carreras[0].fecha_inscri`.
 * The estado is not here: it comes from the tipo, in {@link mergeAlumno}.
 */
export function mapSialAlumno(item: SialListItem, personal: SialPersonalData | null): IncomingAlumno {
  const out: Mutable<IncomingAlumno> = { tipo_documento: item.tipodoc, dni: item.nrodoc };
  if (personal) {
    if (personal.nombre !== undefined) out.nombre = personal.nombre;
    if (personal.apellido !== undefined) out.apellido = personal.apellido;
    if (personal.email !== undefined) out.email_personal = personal.email;
    if (personal.fechaNacimiento !== undefined) out.fecha_nacimiento = personal.fechaNacimiento;
    if (personal.localidad !== undefined) out.localidad = personal.localidad;
    if (personal.telefono !== undefined) out.telefono = personal.telefono;
  }
  const principal = item.principal;
  if (principal) {
    const cohorte = principal.cohorte ?? principal.anioInscri;
    if (cohorte !== undefined) out.cohorte = cohorte;
    if (principal.fechaInscri !== undefined) out.fecha_ingreso = principal.fechaInscri;
    if (principal.estadoIngreso !== undefined) out.estado_ingreso = principal.estadoIngreso;
    if (principal.modalidad !== undefined) out.modalidad = principal.modalidad;
  }
  if (item.carreras.length > 0) out.carreras = item.carreras;
  return out;
}
