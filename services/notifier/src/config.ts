import { boolVar, intVar, parseEnv, portVar, z } from '@lucy/platform';

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
  /** Messages per minute over all pooled connections; 0 = unlimited (Office 365 allows 30). */
  SMTP_RATE_PER_MINUTE: intVar(0, 0),
} as const;

export const smtpEnvSchema = z
  .object(smtpEnvShape)
  .refine((env) => (env.SMTP_USER === undefined) === (env.SMTP_PASSWORD === undefined), {
    message: 'SMTP_USER and SMTP_PASSWORD must be set together',
    path: ['SMTP_PASSWORD'],
  });

/** Validated, frozen SMTP configuration. */
export type SmtpConfig = Readonly<z.infer<typeof smtpEnvSchema>>;

/** Parses and validates the SMTP variables; throws a one-line ConfigError naming each wrong variable. */
export function loadSmtpConfig(env: Record<string, string | undefined> = process.env): SmtpConfig {
  return parseEnv(smtpEnvSchema, env);
}
