/** @lucy/ingest-sial: the SIAL ingestion service and the Alumno registry. */
export { loadConfig, ingestEnvSchema, type IngestConfig } from './config.js';
export { startIngestService, type IngestServiceHandle, type IngestServiceOptions } from './service.js';
export { ingestOrm } from './db/index.js';
// For the benchmarks (bench/ingest-*.ts): the bulk upsert stage and the entity its naive baseline writes through.
export {
  AlumnoSchema as AlumnoEntitySchema,
  upsertAlumnos,
  upsertStatement,
  type AlumnoRow,
  type AlumnoUpsert,
} from './db/index.js';
export type { AlumnoIngestFields } from './domain/index.js';
