import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { createSecretBox, parseSecretKeys, type SecretBox } from './secrets.js';

export { z } from 'zod';

/**
 * Parses the environment with a zod object schema whose keys are variable names. On failure it throws a
 * {@link ConfigError} whose message is one line naming each wrong variable and what it expects.
 * The result is frozen.
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.infer<S>> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const raw = env[key];
    input[key] = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    const parts = result.error.issues.map((issue) => {
      const variable = issue.path.join('.') || '(environment)';
      const described = (schema.shape as Record<string, z.ZodType>)[variable]?.description;
      const expected = described ? ` (expected ${described})` : '';
      return `${variable}: ${issue.message}${expected}`;
    });
    throw new ConfigError(`Invalid configuration: ${parts.join('; ')}`);
  }
  return Object.freeze(result.data);
}

/** A TCP port number. */
export const portVar = (fallback: number) =>
  z.coerce.number().int().min(0).max(65535).default(fallback).describe('a TCP port number, 0-65535');

/** A boolean written as true/false/1/0/yes/no. */
export const boolVar = (fallback: boolean) =>
  z
    .string()
    .regex(/^(true|false|1|0|yes|no)$/i, 'must be true or false')
    .transform((v) => /^(true|1|yes)$/i.test(v))
    .default(fallback)
    .describe('true or false');

/** A positive integer. */
export const intVar = (fallback: number, min = 0) =>
  z.coerce.number().int().min(min).default(fallback).describe(`an integer >= ${min}`);

/** A URL with one of the given protocols. */
export const urlVar = (protocols: readonly string[], fallback?: string) => {
  const base = z
    .string()
    .refine(
      (v) => {
        try {
          return protocols.includes(new URL(v).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      `must be a ${protocols.join(' or ')} URL`,
    )
    .describe(`a URL (${protocols.map((p) => `${p}://...`).join(' or ')})`);
  return fallback === undefined ? base : base.default(fallback);
};

/** Environment variables every service shares: NATS, Postgres, RPC, logging. */
export const platformEnvShape = {
  NATS_URL: z
    .string()
    .default('nats://127.0.0.1:4222')
    .refine(
      (v) => v.split(',').every((s) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(s.trim())),
      'must be a comma-separated list of nats:// or tls:// URLs',
    )
    .describe('nats://host:port[,nats://host:port]'),
  NATS_USER: z.string().optional().describe('a NATS user name'),
  NATS_PASSWORD: z.string().optional().describe('the NATS password'),
  NATS_TOKEN: z.string().optional().describe('a NATS auth token'),
  NATS_NKEY_SEED: z.string().optional().describe('an NKEY seed (SU...)'),
  NATS_CREDS_FILE: z.string().optional().describe('a path to a .creds file'),
  NATS_TLS_CA: z.string().optional().describe('a path to a CA certificate (PEM)'),
  NATS_TLS_CERT: z.string().optional().describe('a path to a client certificate (PEM)'),
  NATS_TLS_KEY: z.string().optional().describe('a path to a client key (PEM)'),
  // Replies (publish acks, pulls, KV watches) arrive on this prefix instead of _INBOX: with deploy/nats/lucy-auth.conf
  // each service may subscribe only to its own (_INBOX_<user>), never to another's replies.
  NATS_INBOX_PREFIX: z
    .string()
    .regex(
      /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/,
      'must be subject tokens without wildcards, e.g. _INBOX_notifier',
    )
    .optional()
    .describe('a reply subject prefix such as _INBOX_notifier'),
  // Start-up fails fast (issue 18): a service that cannot reach NATS at start exits with one fatal line instead of
  // waiting forever; once connected, reconnection is unlimited. 0 waits forever.
  NATS_CONNECT_TIMEOUT_MS: intVar(30_000),
  LUCY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'must contain only letters, digits, _ or -')
    .default('')
    .describe('a stream/subject prefix such as "staging" (letters, digits, _ or -)'),
  // Read when streams and buckets are provisioned: 3 on a three-server JetStream cluster survives losing one.
  LUCY_STREAM_REPLICAS: z.coerce
    .number()
    .int()
    .min(1)
    .max(5)
    .default(1)
    .describe('the JetStream replicas of the streams and buckets, 1-5 (3 on a three-server cluster)'),
  DATABASE_URL: urlVar(['postgres', 'postgresql'], 'postgres://postgres@127.0.0.1:5432/lucy'),
  RPC_HOST: z
    .string()
    .default('127.0.0.1')
    .describe('an interface address to listen on (0.0.0.0 inside a container)'),
  RPC_TLS_CERT_FILE: z
    .string()
    .optional()
    .describe('a path to the RPC server certificate chain (PEM), reloaded when it changes'),
  RPC_TLS_KEY_FILE: z.string().optional().describe('a path to the RPC server private key (PEM)'),
  METRICS_PORT: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('the /metrics port (default RPC_PORT + 2000; 0 disables it)'),
  METRICS_HOST: z.string().optional().describe('an interface address for /metrics (default RPC_HOST)'),
  RPC_TOKEN: z
    .string()
    .min(16, 'must have at least 16 characters')
    .describe('the bearer token RPC callers must present (at least 16 characters)'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('one of fatal, error, warn, info, debug, trace, silent'),
  INSTANCE_ID: z.string().default(`${hostname()}-${process.pid}`).describe('a unique replica name'),
} as const;

/**
 * Variables of a service that stores secrets (the vault): `LUCY_SECRET_KEYS` is `kid:base64key[,kid:base64key]`
 * (32 random bytes each, `openssl rand -base64 32`), `LUCY_SECRET_KEY_ID` the kid that seals new values
 * (default: the first one listed). Build the box with {@link secretBoxFromConfig}.
 */
export const secretBoxEnvShape = {
  LUCY_SECRET_KEYS: z
    .string()
    .superRefine((text, ctx) => {
      try {
        parseSecretKeys(text);
      } catch (err) {
        // Only the reason: the ConfigError prefix is added again by parseEnv.
        ctx.addIssue({
          code: 'custom',
          message: (err as Error).message.replace(/^Invalid configuration: LUCY_SECRET_KEYS: /, ''),
        });
      }
    })
    .describe('kid:base64key[,kid:base64key], each key 32 random bytes (openssl rand -base64 32)'),
  LUCY_SECRET_KEY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, _ or -')
    .optional()
    .describe('the key id of LUCY_SECRET_KEYS that seals new values (default: the first listed)'),
} as const;

/** The secret box of a parsed configuration; a current key id missing from the keyring is a ConfigError. */
export function secretBoxFromConfig(config: {
  readonly LUCY_SECRET_KEYS: string;
  readonly LUCY_SECRET_KEY_ID?: string | undefined;
}): SecretBox {
  const keys = parseSecretKeys(config.LUCY_SECRET_KEYS, 'LUCY_SECRET_KEYS');
  // Listed order, not object order: numeric kids would otherwise sort first.
  const first = config.LUCY_SECRET_KEYS.split(',')
    .map((e) => e.trim())
    .find((e) => e !== '')!
    .split(':')[0]!;
  const currentKeyId = config.LUCY_SECRET_KEY_ID ?? first;
  if (!Object.hasOwn(keys, currentKeyId))
    throw new ConfigError(
      `Invalid configuration: LUCY_SECRET_KEY_ID: "${currentKeyId}" is not a key id of LUCY_SECRET_KEYS (${Object.keys(keys).join(', ')})`,
    );
  return createSecretBox({ keys, currentKeyId });
}

/** What {@link rpcListenOptions} needs: the platform variables and the service's RPC_PORT. */
export interface RpcListenSettings {
  readonly RPC_PORT: number;
  readonly RPC_HOST: string;
  readonly RPC_TLS_CERT_FILE?: string | undefined;
  readonly RPC_TLS_KEY_FILE?: string | undefined;
  readonly METRICS_PORT?: number | undefined;
  readonly METRICS_HOST?: string | undefined;
}

/**
 * The listening part of `startRpcServer`'s options from configuration, the one place that reads the RPC and
 * metrics variables: `startRpcServer({ ...rpcListenOptions(config), token: config.RPC_TOKEN, ... })`.
 */
export function rpcListenOptions(config: RpcListenSettings): {
  port: number;
  host: string;
  tls?: { certFile: string; keyFile: string };
  metrics: { port: number; host: string } | false;
} {
  const { RPC_TLS_CERT_FILE: certFile, RPC_TLS_KEY_FILE: keyFile } = config;
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new ConfigError(
      `Invalid configuration: ${certFile ? 'RPC_TLS_KEY_FILE' : 'RPC_TLS_CERT_FILE'}: RPC_TLS_CERT_FILE and RPC_TLS_KEY_FILE go together`,
    );
  if (certFile) readConfigFile('RPC_TLS_CERT_FILE', certFile);
  if (keyFile) readConfigFile('RPC_TLS_KEY_FILE', keyFile);
  const metricsHost = config.METRICS_HOST ?? config.RPC_HOST;
  let metrics: { port: number; host: string } | false;
  if (config.METRICS_PORT === 0) metrics = false;
  else if (config.METRICS_PORT !== undefined) metrics = { port: config.METRICS_PORT, host: metricsHost };
  // A free port for a free RPC port (tests); otherwise the convention, 7101 → 9101.
  else if (config.RPC_PORT === 0) metrics = { port: 0, host: metricsHost };
  else if (config.RPC_PORT + 2000 <= 65535) metrics = { port: config.RPC_PORT + 2000, host: metricsHost };
  else
    throw new ConfigError(
      `Invalid configuration: METRICS_PORT: RPC_PORT + 2000 is above 65535; set METRICS_PORT (0 disables /metrics)`,
    );
  return {
    port: config.RPC_PORT,
    host: config.RPC_HOST,
    ...(certFile && keyFile ? { tls: { certFile, keyFile } } : {}),
    metrics,
  };
}

/** Reads a PEM or creds file named by a variable, with a clear error. */
export function readConfigFile(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${variable}: cannot read file ${path}`, { cause: err });
  }
}

/** The service this process runs, for the fatal start-up line; set by `runMain`'s option or the runtime. */
let processService: string | undefined;

/** Records the service this process runs (called by `createServiceRuntime`), for the fatal start-up line. */
export function noteProcessService(service: string): void {
  processService ??= service;
}

/** Options of {@link runMain}. */
export interface RunMainOptions {
  /** Service name on the fatal line; default the one the runtime was created for, else the entry point's folder. */
  service?: string;
}

/** The service name for the fatal line: given, noted by the runtime, or `services/<name>/` in the entry path. */
function serviceName(options: RunMainOptions): string {
  return (
    options.service ??
    processService ??
    /services[/\\]([^/\\]+)[/\\]/.exec(process.argv[1] ?? '')?.[1] ??
    'unknown'
  );
}

/**
 * Runs a service entry point: parses config and starts it. A failure ends the process at once with ONE complete
 * JSON line on stderr — `level` fatal, `time` (ISO 8601), `service`, `msg` (what failed, in one line) and `err`
 * (the cause with its stack) — instead of a stack trace or a line without context: a {@link ConfigError} exits
 * with status 78 (EX_CONFIG), anything else (a taken port, an unreachable database) with 1. Start-up binds the
 * RPC port and checks the dependencies before anything is consumed, so nothing is left half-taken.
 */
export async function runMain(main: () => Promise<void>, options: RunMainOptions = {}): Promise<void> {
  try {
    await main();
  } catch (err) {
    const config = err instanceof ConfigError;
    const cause = err instanceof Error ? err.message : String(err);
    const line = {
      level: 'fatal',
      time: new Date().toISOString(),
      service: serviceName(options),
      pid: process.pid,
      msg: `${config ? 'invalid configuration' : 'start-up failed'}: ${cause.split('\n')[0]}`,
      err: config ? cause : String((err as Error)?.stack ?? err),
    };
    process.stderr.write(`${JSON.stringify(line)}\n`, () => process.exit(config ? 78 : 1));
    // stderr is synchronous for files and TTYs; for a pipe the callback above exits once it is flushed.
    setTimeout(() => process.exit(config ? 78 : 1), 2000).unref();
  }
}
