import { isIP } from 'node:net';
import {
  boolVar,
  intVar,
  parseEnv,
  platformEnvShape,
  portVar,
  secretBoxEnvShape,
  urlVar,
  z,
} from '@lucy/platform';

/**
 * Whether a URL's host is this machine: only there may HTTP Basic credentials travel in clear (the demo fake, a
 * local tunnel). `localhost`, 127.0.0.0/8 and ::1.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** Environment of ingest-sial: the platform variables plus its own. */
export const ingestEnvSchema = z.object({
  ...platformEnvShape,
  RPC_PORT: portVar(7103),
  SIAL_BASE_URL: urlVar(['http', 'https'], 'http://127.0.0.1:8088').refine((v) => {
    const url = new URL(v);
    return url.protocol === 'https:' || isLoopbackHost(url.hostname);
  }, 'must be an https:// URL (http:// only to a loopback host: it carries the SIAL password)'),
  // No defaults: the fake's demo credentials must never reach a real SIAL. The dev supervisor and compose's
  // demo profile pass them explicitly.
  SIAL_USER: z.string().min(1, 'is required').describe('the SIAL HTTP Basic user'),
  SIAL_PASSWORD: z.string().min(1, 'is required').describe('the SIAL HTTP Basic password'),
  // The key ring that seals the SIAL password staff store in the Configuración (the same Secret as identity-teams').
  // Optional: without it nothing can be stored (UpdateConfiguracion refuses a password, naming sial_password) and
  // SIAL_USER/SIAL_PASSWORD are used; everything else works.
  ...secretBoxEnvShape,
  LUCY_SECRET_KEYS: secretBoxEnvShape.LUCY_SECRET_KEYS.optional(),
  /** How often a replica re-reads the credentials staff stored (a change made through another replica). */
  SIAL_CREDENTIALS_REFRESH_MS: intVar(10_000, 1_000),
  SIAL_TIMEOUT_MS: intVar(30_000, 100),
  SIAL_RETRIES: intVar(3, 0),
  SIAL_CONCURRENCY: intVar(16, 1),
  /** Attempts of an ingestion command before it is dead-lettered. */
  INGEST_MAX_ATTEMPTS: intVar(5, 1),
  MIGRATE_ON_START: boolVar(false),
  /** Most alumnos one export may hold; above it staff are asked to filter. */
  EXPORT_MAX_ROWS: intVar(200_000, 1),
});

/** Validated, frozen configuration. */
export type IngestConfig = Readonly<z.infer<typeof ingestEnvSchema>>;

/** Parses and validates the environment; throws a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  return parseEnv(ingestEnvSchema, env);
}
