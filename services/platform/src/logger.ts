import { pino, type Logger, type LevelWithSilent } from 'pino';
import { isSecretKey, REDACTED } from './secrets.js';

export type { Logger } from 'pino';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name, added to every line. */
  service: string;
  /** Minimum level; default `info`. */
  level?: LevelWithSilent;
  /** Instance id, added to every line. */
  instance?: string;
  /** Destination stream; default stdout. */
  destination?: NodeJS.WritableStream;
}

// Paths pino redacts without walking objects; the serializer below catches secret keys at any depth in
// `detalles`, `params` and `err` objects.
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'clientSecret',
  '*.clientSecret',
];

function scrub(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && v ? REDACTED : scrub(v, depth + 1);
  }
  return out;
}

/**
 * Structured JSON logger (one object per line) with secrets redacted: known secret paths, and any key that
 * looks like a secret inside `detalles`, `params`, `config` and `context` objects.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, ...(options.instance ? { instance: options.instance } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers: {
        err: pino.stdSerializers.err,
        detalles: scrub,
        params: scrub,
        config: scrub,
        context: scrub,
      },
    },
    options.destination as pino.DestinationStream | undefined,
  );
}
