import { boolVar, intVar, parseEnv, platformEnvShape, portVar, urlVar, z } from '@lucy/platform';

/** Environment of ingest-sial: the platform variables plus its own. */
export const ingestEnvSchema = z.object({
  ...platformEnvShape,
  RPC_PORT: portVar(7103),
  SIAL_BASE_URL: urlVar(['http', 'https'], 'http://127.0.0.1:8088'),
  SIAL_USER: z.string().default('usuario').describe('the SIAL HTTP Basic user'),
  SIAL_PASSWORD: z.string().default('contrasena').describe('the SIAL HTTP Basic password'),
  SIAL_TIMEOUT_MS: intVar(30_000, 100),
  SIAL_RETRIES: intVar(3, 0),
  SIAL_CONCURRENCY: intVar(16, 1),
  /** Attempts of an ingestion command before it is dead-lettered. */
  INGEST_MAX_ATTEMPTS: intVar(5, 1),
  MIGRATE_ON_START: boolVar(false),
});

/** Validated, frozen configuration. */
export type IngestConfig = Readonly<z.infer<typeof ingestEnvSchema>>;

/** Parses and validates the environment; throws a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  return parseEnv(ingestEnvSchema, env);
}
