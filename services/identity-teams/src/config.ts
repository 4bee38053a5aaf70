import {
  boolVar,
  ConfigError,
  intVar,
  parseEnv,
  platformEnvShape,
  portVar,
  secretBoxEnvShape,
  urlVar,
  z,
} from '@lucy/platform';

/** Environment of identity-teams: the platform variables, the vault keys, Graph, Moodle and its own limits. */
export const identityEnvSchema = z.object({
  ...platformEnvShape,
  ...secretBoxEnvShape,
  RPC_PORT: portVar(7104),
  GRAPH_TENANT_ID: z.string().describe('the Entra tenant id'),
  GRAPH_CLIENT_ID: z.string().describe('the app (client) id'),
  /** Exactly one of the secret, the certificate file or the certificate PEM authenticates the app. */
  GRAPH_CLIENT_SECRET: z.string().optional().describe('the client secret'),
  GRAPH_CLIENT_CERTIFICATE_PATH: z
    .string()
    .optional()
    .describe('a PEM file with the private key and the certificate registered on the app'),
  GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY: z
    .string()
    .optional()
    .describe('the private key and the certificate, PEM (literal \\n accepted)'),
  GRAPH_AUTHORITY_HOST: urlVar(['https']).optional(),
  GRAPH_BASE_URL: urlVar(['https']).optional(),
  /** Graph writes allowed per window across every replica (Graph's quota is 3,000 per 150 s; stay below it). */
  GRAPH_WRITES_PER_WINDOW: intVar(2400, 1),
  GRAPH_WRITE_WINDOW_MS: intVar(150_000, 100),
  /** Writes that may go at once after a quiet period; the refill rate is (limit − burst) / window. */
  GRAPH_WRITE_BURST: intVar(50, 1),
  GRAPH_SAFE_DELETE_PREFIX: z.string().default('test-').describe('the prefix of deletable UPNs'),
  GRAPH_STUDENT_SKU: z
    .string()
    .default('STANDARDWOFFPACK_STUDENT')
    .describe('the part number of the student licence'),
  GRAPH_MAX_RETRIES: intVar(5, 0),
  /** `{prefix}{dni}@{domain}`. */
  IDENTITY_UPN_PREFIX: z.string().default('test-a').describe('the UPN prefix (letters, digits, - _ .)'),
  IDENTITY_UPN_DOMAIN: z.string().describe('a verified domain of the tenant, e.g. eco.unrc.edu.ar'),
  MOODLE_URL: urlVar(['http', 'https']).optional(),
  MOODLE_TOKEN: z.string().optional().describe('the Moodle web-service token'),
  MOODLE_AUTH: z.string().default('oidc').describe('the Moodle auth plugin of new users (oidc, manual…)'),
  /** ingest-sial's RPC (AlumnoService, IngestService), with RPC_TOKEN unless INGEST_RPC_TOKEN is set. */
  INGEST_RPC_URL: urlVar(['http', 'https'], 'http://127.0.0.1:7103'),
  INGEST_RPC_TOKEN: z.string().optional().describe("ingest-sial's RPC token (default RPC_TOKEN)"),
  /** How long the per-tipo flags of ingest-sial's Configuración are cached. */
  IDENTITY_CONFIG_CACHE_MS: intVar(10_000, 0),
  IDENTITY_CONCURRENCY: intVar(16, 1),
  IDENTITY_MAX_ATTEMPTS: intVar(5, 1),
  /** Ack wait of the identity commands: JetStream redelivers a crashed run's command after it. */
  IDENTITY_ACK_WAIT_MS: intVar(60_000, 1000),
  IDENTITY_BATCH_LIMIT: intVar(50, 1),
  IDENTITY_MASS_DELETE_MAX: intVar(20, 0),
  IDENTITY_MASS_DELETE_WINDOW_MS: intVar(3_600_000, 1000),
  IDENTITY_REVEAL_ENABLED: boolVar(true),
  /** Presented by admins in the `lucy-admin-token` header (RevealPassword, held deletions); unset → refused. */
  IDENTITY_ADMIN_TOKEN: z.string().min(16, 'must have at least 16 characters').optional(),
  MIGRATE_ON_START: boolVar(false),
});

/** Validated, frozen configuration. */
export type IdentityConfig = Readonly<z.infer<typeof identityEnvSchema>>;

/** Parses and validates the environment; throws a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): IdentityConfig {
  const config = parseEnv(identityEnvSchema, env);
  const given = [
    config.GRAPH_CLIENT_SECRET && 'GRAPH_CLIENT_SECRET',
    config.GRAPH_CLIENT_CERTIFICATE_PATH && 'GRAPH_CLIENT_CERTIFICATE_PATH',
    config.GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY && 'GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY',
  ].filter(Boolean);
  if (given.length !== 1) {
    throw new ConfigError(
      `Invalid configuration: GRAPH_CLIENT_SECRET: set exactly one of GRAPH_CLIENT_SECRET, GRAPH_CLIENT_CERTIFICATE_PATH, GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY (${given.length === 0 ? 'none is set' : `${given.join(' and ')} are set`})`,
    );
  }
  return config;
}

/** How the Graph app authenticates, from the configuration (exactly one is set, see {@link loadConfig}). */
export function graphCredentialOf(
  config: IdentityConfig,
  secret?: () => string,
): { clientSecret: string | (() => string) } | { clientCertificate: { path: string } | { pem: string } } {
  if (config.GRAPH_CLIENT_CERTIFICATE_PATH)
    return { clientCertificate: { path: config.GRAPH_CLIENT_CERTIFICATE_PATH } };
  if (config.GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY)
    return {
      clientCertificate: { pem: config.GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY.replaceAll('\\n', '\n') },
    };
  return { clientSecret: secret ?? config.GRAPH_CLIENT_SECRET ?? '' };
}
