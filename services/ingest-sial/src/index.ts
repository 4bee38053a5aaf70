/** @lucy/ingest-sial: the SIAL ingestion service and the Alumno registry. */
export { loadConfig, ingestEnvSchema, type IngestConfig } from './config.js';
export { startIngestService, type IngestServiceHandle, type IngestServiceOptions } from './service.js';
export { ingestOrm } from './db/index.js';
