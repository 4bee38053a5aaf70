/** Conversions between stored rows and the protobuf contract. */
import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import {
  AlumnoSchema,
  CarreraSchema,
  ComisionSchema,
  Estado as EstadoPb,
  FieldChangeSchema,
  TipoIngesta,
  type Alumno,
  type Carrera,
  type FieldChange as FieldChangePb,
} from '@lucy/proto';
import type { StoredAlumno } from './db/alumno.repository.js';
import type { Estado, FieldChange, JsonObject, Tipo } from './domain/index.js';

export const ESTADO_TO_PB: Readonly<Record<Estado, EstadoPb>> = {
  preinscripto: EstadoPb.PREINSCRIPTO,
  aspirante: EstadoPb.ASPIRANTE,
  ingresante: EstadoPb.INGRESANTE,
  alumno: EstadoPb.ALUMNO,
};

export const ESTADO_FROM_PB: Readonly<Partial<Record<EstadoPb, Estado>>> = {
  [EstadoPb.PREINSCRIPTO]: 'preinscripto',
  [EstadoPb.ASPIRANTE]: 'aspirante',
  [EstadoPb.INGRESANTE]: 'ingresante',
  [EstadoPb.ALUMNO]: 'alumno',
};

export const TIPO_TO_PB: Readonly<Record<Tipo, TipoIngesta>> = {
  preinscriptos: TipoIngesta.PREINSCRIPTOS,
  aspirantes: TipoIngesta.ASPIRANTES,
  ingresantes: TipoIngesta.INGRESANTES,
};

/** The tipo of a protobuf TipoIngesta, undefined for UNSPECIFIED or unknown values. */
export function tipoFromPb(tipo: TipoIngesta): Tipo | undefined {
  switch (tipo) {
    case TipoIngesta.PREINSCRIPTOS:
      return 'preinscriptos';
    case TipoIngesta.ASPIRANTES:
      return 'aspirantes';
    case TipoIngesta.INGRESANTES:
      return 'ingresantes';
    default:
      return undefined;
  }
}

const num = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.trunc(n) : 0;
};
const str = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';

/** A SIAL `carreras` element as the Carrera message (tolerant: unknown shapes become zero values). */
export function toCarrera(raw: JsonObject): Carrera {
  const comisiones = Array.isArray(raw.comisiones) ? raw.comisiones : [];
  return create(CarreraSchema, {
    idCarrera: BigInt(num(raw.id_carrera)),
    nombreCarrera: str(raw.nombre_carrera),
    fechaInscri: str(raw.fecha_inscri),
    modalidad: str(raw.modalidad),
    cohorte: num(raw.cohorte),
    estadoIngreso: str(raw.estado_ingreso),
    comisiones: comisiones
      .filter((c): c is JsonObject => typeof c === 'object' && c !== null && !Array.isArray(c))
      .map((c) =>
        create(ComisionSchema, {
          idComision: BigInt(num(c.id_comision)),
          nombreComision: str(c.nombre_comision),
        }),
      ),
  });
}

/** A stored alumno as the Alumno message. */
export function toAlumnoPb(a: StoredAlumno): Alumno {
  return create(AlumnoSchema, {
    id: a.id,
    tipoDocumento: a.tipo_documento,
    dni: a.dni,
    nombre: a.nombre ?? '',
    apellido: a.apellido ?? '',
    emailPersonal: a.email_personal ?? '',
    emailInstitucional: a.email_institucional ?? '',
    fechaNacimiento: a.fecha_nacimiento ?? '',
    cohorte: a.cohorte ?? 0,
    localidad: a.localidad ?? '',
    telefono: a.telefono ?? '',
    estado: ESTADO_TO_PB[a.estado] ?? EstadoPb.UNSPECIFIED,
    fechaIngreso: a.fecha_ingreso ?? '',
    estadoIngreso: a.estado_ingreso ?? '',
    modalidad: a.modalidad ?? '',
    carreras: (a.carreras ?? []).map(toCarrera),
    teamsProcesado: a.teams_procesado,
    moodleProcesado: a.moodle_procesado,
    emailProcesado: a.email_procesado,
    createdAt: timestampFromDate(a.created_at),
    updatedAt: timestampFromDate(a.updated_at),
  });
}

const toValue = (v: unknown) => fromJson(ValueSchema, (v ?? null) as JsonValue);

/** A merge change as the FieldChange message. */
export function toFieldChangePb(c: FieldChange): FieldChangePb {
  return create(FieldChangeSchema, { field: c.field, before: toValue(c.before), after: toValue(c.after) });
}
