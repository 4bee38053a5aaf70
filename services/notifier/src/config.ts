import {
  boolVar,
  ConfigError,
  intVar,
  parseEnv,
  platformEnvShape,
  portVar,
  readConfigFile,
  secretBoxEnvShape,
  urlVar,
  z,
} from '@lucy/platform';

// A mailbox as nodemailer accepts it: `addr@host` or `Display Name <addr@host>`.
const MAILBOX = /^(?:[^<>\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/;

/**
 * SMTP variables of the notifier. Defaults point at the development sink (`@lucy/fake-smtp` on 127.0.0.1:1025,
 * which `scripts/dev.mjs` passes as SMTP_HOST/SMTP_PORT); production sets the relay, e.g. Office 365
 * `smtp.office365.com:587` with `SMTP_STARTTLS=required` and credentials.
 */
export const smtpEnvShape = {
  SMTP_HOST: z.string().default('127.0.0.1').describe('the SMTP relay host name or address'),
  SMTP_PORT: portVar(1025),
  /** Implicit TLS from the first byte (port 465); otherwise plain, upgraded per SMTP_STARTTLS. */
  SMTP_SECURE: boolVar(false),
  SMTP_STARTTLS: z
    .enum(['required', 'opportunistic', 'disabled'])
    .default('opportunistic')
    .describe('one of required (fail without STARTTLS), opportunistic (use it when offered), disabled'),
  /** Set to false only for a relay with a self-signed certificate (development). */
  SMTP_TLS_REJECT_UNAUTHORIZED: boolVar(true),
  SMTP_USER: z.string().optional().describe('the SMTP AUTH user'),
  SMTP_PASSWORD: z.string().optional().describe('the SMTP AUTH password'),
  SMTP_FROM: z
    .string()
    .regex(MAILBOX, 'must be an address or "Name <address>"')
    .default('Facultad de Ciencias Económicas - UNRC <no-reply@v.eco.unrc.edu.ar>')
    .describe('the sender, "Name <address>" or an address'),
  SMTP_CONNECTION_TIMEOUT_MS: intVar(10_000, 100),
  SMTP_GREETING_TIMEOUT_MS: intVar(10_000, 100),
  SMTP_SOCKET_TIMEOUT_MS: intVar(60_000, 100),
  /** Reuse connections (one SMTP session sends many messages). */
  SMTP_POOL: boolVar(true),
  SMTP_MAX_CONNECTIONS: intVar(3, 1),
  /** Messages per pooled connection before it is replaced. */
  SMTP_MAX_MESSAGES_PER_CONNECTION: intVar(100, 1),
  /** Messages per minute sent by this replica; 0 = unlimited (Office 365 allows 30). */
  SMTP_RATE_PER_MINUTE: intVar(0, 0),
  SMTP_REPLY_TO: z
    .string()
    .regex(MAILBOX, 'must be an address or "Name <address>"')
    .optional()
    .describe('the Reply-To, "Name <address>" or an address (e.g. the students\' support mailbox)'),
  /** DKIM signing: all three of domain, selector and a key (inline PEM or a file) or none. */
  SMTP_DKIM_DOMAIN: z.string().optional().describe('the DKIM signing domain (d=)'),
  SMTP_DKIM_SELECTOR: z.string().optional().describe('the DKIM selector (s=)'),
  SMTP_DKIM_PRIVATE_KEY: z.string().optional().describe('the DKIM private key, PEM'),
  SMTP_DKIM_PRIVATE_KEY_FILE: z.string().optional().describe('a path to the DKIM private key (PEM)'),
} as const;

interface SmtpRulesInput {
  SMTP_USER?: string | undefined;
  SMTP_PASSWORD?: string | undefined;
  SMTP_DKIM_DOMAIN?: string | undefined;
  SMTP_DKIM_SELECTOR?: string | undefined;
  SMTP_DKIM_PRIVATE_KEY?: string | undefined;
  SMTP_DKIM_PRIVATE_KEY_FILE?: string | undefined;
}

const credentialsTogether = (env: SmtpRulesInput) =>
  (env.SMTP_USER === undefined) === (env.SMTP_PASSWORD === undefined);
const CREDENTIALS_RULE = {
  message: 'SMTP_USER and SMTP_PASSWORD must be set together',
  path: ['SMTP_PASSWORD'],
};
const dkimTogether = (env: SmtpRulesInput) =>
  [
    env.SMTP_DKIM_DOMAIN,
    env.SMTP_DKIM_SELECTOR,
    env.SMTP_DKIM_PRIVATE_KEY ?? env.SMTP_DKIM_PRIVATE_KEY_FILE,
  ].filter((v) => v !== undefined).length %
    3 ===
  0;
const DKIM_RULE = {
  message:
    'DKIM needs SMTP_DKIM_DOMAIN, SMTP_DKIM_SELECTOR and SMTP_DKIM_PRIVATE_KEY (or SMTP_DKIM_PRIVATE_KEY_FILE) together',
  path: ['SMTP_DKIM_PRIVATE_KEY'],
};

export const smtpEnvSchema = z
  .object(smtpEnvShape)
  .refine(credentialsTogether, CREDENTIALS_RULE)
  .refine(dkimTogether, DKIM_RULE);

/** Validated, frozen SMTP configuration. */
export type SmtpConfig = Readonly<z.infer<typeof smtpEnvSchema>>;

/** Reads the DKIM key file into SMTP_DKIM_PRIVATE_KEY (a one-line ConfigError when unreadable or not PEM). */
function withDkimKey<T extends SmtpConfig>(config: T): T {
  let key = config.SMTP_DKIM_PRIVATE_KEY;
  if (key === undefined && config.SMTP_DKIM_PRIVATE_KEY_FILE !== undefined) {
    key = readConfigFile('SMTP_DKIM_PRIVATE_KEY_FILE', config.SMTP_DKIM_PRIVATE_KEY_FILE);
  }
  if (key === undefined) return config;
  // Kubernetes secrets and .env files often carry the PEM with literal "\n".
  key = key.replace(/\\n/g, '\n');
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
    throw new ConfigError(
      'Invalid configuration: SMTP_DKIM_PRIVATE_KEY: must be a PEM private key (-----BEGIN PRIVATE KEY-----)',
    );
  }
  return Object.freeze({ ...config, SMTP_DKIM_PRIVATE_KEY: key });
}

/** Parses and validates the SMTP variables; throws a one-line ConfigError naming each wrong variable. */
export function loadSmtpConfig(env: Record<string, string | undefined> = process.env): SmtpConfig {
  return withDkimKey(parseEnv(smtpEnvSchema, env));
}

/** Environment of the notifier service: the platform variables, SMTP, and its own. */
export const notifierEnvSchema = z
  .object({
    ...platformEnvShape,
    ...smtpEnvShape,
    RPC_PORT: portVar(7105),
    /** identity-teams, for ResolveCredential (the temporary password at send time). */
    IDENTITY_RPC_URL: urlVar(['http', 'https'], 'http://127.0.0.1:7104'),
    /** ingest-sial, for AlumnoService.GetAlumno (names, DNI, addresses). */
    INGEST_RPC_URL: urlVar(['http', 'https'], 'http://127.0.0.1:7103'),
    /** The V.ECO address shown in the enrolment e-mail ({moodle_url}). */
    MOODLE_PUBLIC_URL: urlVar(['http', 'https'], 'https://v.eco.unrc.edu.ar'),
    /** E-mail commands handled at once by this replica. */
    NOTIFY_CONCURRENCY: intVar(16, 1),
    /** Attempts of an e-mail command before it is dead-lettered. */
    NOTIFY_MAX_ATTEMPTS: intVar(6, 1),
    /** Ack deadline of an e-mail command; a crashed replica's commands are redelivered after it. */
    NOTIFY_ACK_WAIT_MS: intVar(30_000, 1000),
    /** Timeout of one call to identity-teams or ingest-sial. */
    NOTIFY_RPC_TIMEOUT_MS: intVar(10_000, 100),
    MIGRATE_ON_START: boolVar(false),
    /**
     * The secret box's key ring, which seals the SMTP password staff store from the admin's Configuración (the
     * same Secret identity-teams uses). Optional: without it the notifier uses SMTP_USER/SMTP_PASSWORD only and
     * refuses to store a password.
     */
    LUCY_SECRET_KEYS: secretBoxEnvShape.LUCY_SECRET_KEYS.optional(),
    LUCY_SECRET_KEY_ID: secretBoxEnvShape.LUCY_SECRET_KEY_ID.optional(),
    /** How often the stored SMTP credentials are re-read (a change made through another replica). */
    NOTIFY_SETTINGS_REFRESH_MS: intVar(10_000, 1000),
  })
  .refine(credentialsTogether, CREDENTIALS_RULE)
  .refine(dkimTogether, DKIM_RULE);

/** Validated, frozen configuration of the notifier. */
export type NotifierConfig = Readonly<z.infer<typeof notifierEnvSchema>>;

/** Parses and validates the notifier's environment; a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): NotifierConfig {
  return withDkimKey(parseEnv(notifierEnvSchema, env));
}
