/** Outbound adapters of identity-teams: Microsoft Graph (with its Entra ID credential) and Moodle. */
export {
  createGraphClient,
  DEFAULT_GRAPH_BASE_URL,
  GRAPH_SCOPE,
  retryAfterMs,
  type GraphAssignedLicense,
  type GraphClient,
  type GraphClientOptions,
  type GraphSku,
  type GraphUser,
  type NewGraphUser,
} from './graph.client.js';
export {
  classifyGraphFailure,
  GRAPH_ERROR,
  GraphUserExistsError,
  type GraphErrorContext,
  type GraphFailure,
} from './graph.errors.js';
export { createWriteLimiter, type WriteLimiter, type WriteLimiterOptions } from './write-limiter.js';
export { realClock, type AdapterClock } from './clock.js';
export {
  createMoodleClient,
  encodePhpParams,
  MOODLE_ERROR,
  MOODLE_REST_PATH,
  MoodleUserExistsError,
  type MoodleClient,
  type MoodleClientOptions,
  type MoodleEnrolment,
  type MoodleSiteInfo,
  type MoodleUser,
  type MoodleUserField,
  type NewMoodleUser,
} from './moodle.client.js';
export {
  createIngestClient,
  type AlumnoInfo,
  type IngestClient,
  type TipoFlags,
  type TipoNombre,
} from './ingest.client.js';
