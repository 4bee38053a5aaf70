import { EntitySchema } from '@lucy/platform';

/** An alumno row (`ingest.alumno`). Bulk writes go through raw SQL (see alumno.repository.ts). */
export interface AlumnoRow {
  id: string;
  tipoDocumento: string;
  dni: string;
  nombre?: string | null;
  apellido?: string | null;
  emailPersonal?: string | null;
  emailInstitucional?: string | null;
  fechaNacimiento?: string | null;
  cohorte?: number | null;
  localidad?: string | null;
  telefono?: string | null;
  estado: string;
  fechaIngreso?: string | null;
  estadoIngreso?: string | null;
  modalidad?: string | null;
  carreras?: unknown[] | null;
  teamsProcesado: boolean;
  moodleProcesado: boolean;
  emailProcesado: boolean;
  /** List fingerprint per tipo: `{ "preinscriptos": "v1:…" }`. */
  fingerprints: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** Mapping of `ingest.alumno`. */
export const AlumnoSchema = new EntitySchema<AlumnoRow>({
  name: 'Alumno',
  tableName: 'alumno',
  properties: {
    id: { type: 'uuid', primary: true },
    tipoDocumento: { type: 'string' },
    dni: { type: 'string' },
    nombre: { type: 'string', nullable: true },
    apellido: { type: 'string', nullable: true },
    emailPersonal: { type: 'string', nullable: true },
    emailInstitucional: { type: 'string', nullable: true },
    fechaNacimiento: { type: 'date', nullable: true },
    cohorte: { type: 'integer', nullable: true },
    localidad: { type: 'string', nullable: true },
    telefono: { type: 'string', nullable: true },
    estado: { type: 'string' },
    fechaIngreso: { type: 'date', nullable: true },
    estadoIngreso: { type: 'string', nullable: true },
    modalidad: { type: 'string', nullable: true },
    carreras: { type: 'json', nullable: true },
    teamsProcesado: { type: 'boolean' },
    moodleProcesado: { type: 'boolean' },
    emailProcesado: { type: 'boolean' },
    fingerprints: { type: 'json' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
  },
});
