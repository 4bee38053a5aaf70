/** Outbound adapters of ingest-sial: the SIAL web-service client and its helpers. */
export {
  SIAL_BASE_PATH,
  createSialClient,
  formatSialDate,
  type SialCallOptions,
  type SialClient,
  type SialClientOptions,
  type SialCredentials,
  type SialListRange,
  type SialListSink,
} from './sial.client.js';
export { JsonArraySplitter, type ElementHandler } from './json-array-splitter.js';
export {
  SialAuthError,
  SialConnectionError,
  SialError,
  SialHttpError,
  SialResponseError,
} from './sial.errors.js';
export { mapWithConcurrency, type MapWithConcurrencyOptions } from './concurrency.js';
export { createTokenBucket, unlimited, type RateLimiter, type TokenBucketOptions } from './rate-limiter.js';
export { systemClock, type Clock } from './clock.js';
