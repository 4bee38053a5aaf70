/** Small factories for the domain tests: SIAL-shaped raw records and stored alumnos. */
import type { AlumnoIngestFields } from './alumno-mapping.js';

/** A raw list record as SIAL sends it (nrodoc a number). */
export function rawListItem(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tipodoc: 'DNI',
    nrodoc: 30111222,
    carreras: [
      {
        id_carrera: 3,
        nombre_carrera: 'CONTADOR PÚBLICO',
        fecha_inscri: '06/12/2024 11:42:32',
        modalidad: '2',
        cohorte: 2025,
        comisiones: [{ id_comision: 542, nombre_comision: 'COMISION 03' }],
      },
    ],
    ...overrides,
  };
}

/** A raw carrera, for building `carreras`. */
export function rawCarrera(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id_carrera: 3,
    nombre_carrera: 'CONTADOR PÚBLICO',
    fecha_inscri: '06/12/2024 11:42:32',
    modalidad: '2',
    cohorte: 2025,
    comisiones: [],
    ...overrides,
  };
}

/** A raw personal-data object as SIAL sends it (nrodoc a string, apellido with a trailing space). */
export function rawPersonal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tipodoc: 'DNI',
    nrodoc: '30111222',
    nombre: 'VIRGINIA SOLEDAD',
    apellido: 'BRUSASCA ',
    email: 'virginia.brusasca@gmail.com',
    fecha_natal: '19/01/80',
    telefono: '54-358-486-2940',
    localidad: 'General Deheza',
    ...overrides,
  };
}

/** A stored alumno with every ingestion field set. */
export function storedAlumno(overrides: Partial<AlumnoIngestFields> = {}): AlumnoIngestFields {
  return {
    tipo_documento: 'DNI',
    dni: '30111222',
    nombre: 'VIRGINIA SOLEDAD',
    apellido: 'BRUSASCA',
    email_personal: 'virginia.brusasca@gmail.com',
    fecha_nacimiento: '1980-01-19',
    cohorte: 2025,
    localidad: 'General Deheza',
    telefono: '54-358-486-2940',
    estado: 'preinscripto',
    fecha_ingreso: '2024-12-06',
    estado_ingreso: null,
    modalidad: '2',
    carreras: [
      {
        id_carrera: 3,
        nombre_carrera: 'CONTADOR PÚBLICO',
        fecha_inscri: '06/12/2024 11:42:32',
        modalidad: '2',
        cohorte: 2025,
        comisiones: [{ id_comision: 542, nombre_comision: 'COMISION 03' }],
      },
    ],
    ...overrides,
  };
}
