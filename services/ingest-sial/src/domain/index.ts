/** Pure ingestion logic of ingest-sial: no I/O, no NATS, MikroORM or Connect. */
export {
  ESTADO_FOR_TIPO,
  ESTADOS,
  TIPOS,
  compareEstado,
  forwardEstado,
  isEstado,
  isTipo,
  type Estado,
  type Tipo,
} from './tipo.js';
export { COLUMN_LIMITS, isPlausibleEmail, jsonProblem, textProblem } from './column-limits.js';
export { isPlainObject, jsonEqual, type JsonObject, type JsonValue } from './json.js';
export { DEFAULT_TIME_ZONE, formatLocalDateTime, localParts, type LocalParts } from './local-time.js';
export {
  ERROR_CATEGORIAS,
  causeMessage,
  dataRejected,
  describePosition,
  describeRecord,
  personalDataError,
  recordError,
  saveError,
  unexpectedError,
  type ErrorCategoria,
  type RecordError,
  type RecordRef,
} from './record-error.js';
export { parseFechaInscri, parseFechaNatal, pivotTwoDigitYear, type FechaInscri } from './sial-dates.js';
export {
  parseListItem,
  parsePersonalData,
  type CarreraPrincipal,
  type ParseOutcome,
  type SialListItem,
  type SialPersonalData,
} from './sial-record.js';
export {
  INGEST_OWNED_FIELDS,
  mapSialAlumno,
  type AlumnoIngestFields,
  type IncomingAlumno,
} from './alumno-mapping.js';
export {
  ingestFieldsOf,
  MERGED_FIELDS,
  mergeAlumno,
  type FieldChange,
  type MergeKind,
  type MergeResult,
} from './alumno-merge.js';
export {
  FINGERPRINT_VERSION,
  listFingerprint,
  shouldFetchPersonalData,
  type PersonalDataDecisionInput,
  type PersonalDataReason,
} from './fingerprint.js';
export {
  prepareListBatch,
  createListScanner,
  restoreListItem,
  scannedFingerprint,
  type ListScanner,
  type ListScan,
  type ScannedItem,
  type PreparedBatch,
  type PreparedItem,
} from './list-batch.js';
export {
  evaluateWindow,
  validateWindow,
  type WindowConfig,
  type WindowDecision,
  type WindowFieldError,
  type WindowSkipCode,
} from './window.js';
export {
  DEFAULT_OVERLAP_MS,
  incrementalRange,
  nextCheckpoint,
  type IncrementalRange,
  type IncrementalRangeInput,
  type NextCheckpointInput,
} from './incremental-range.js';
export { assessSourceHealth, type SourceHealth, type SourceHealthInput } from './source-health.js';
export {
  EMPTY_ERRORES,
  cantidadEntidades,
  combineDetalles,
  createIngestTally,
  summarizeIngest,
  type IngestDetalles,
  type IngestTally,
} from './ingest-tally.js';
