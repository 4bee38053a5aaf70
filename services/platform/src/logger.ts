import { pino, type Logger, type LevelWithSilent } from 'pino';
import { redact } from './secrets.js';

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

/**
 * Structured JSON logger (one object per line). Every record goes through the one redactor ({@link redact}):
 * the merged object at any depth, the message and its format arguments, child bindings, and errors with their
 * own properties — there is no list of paths to keep up to date and no field a caller can forget to mark.
 */
export function createLogger(options: LoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service, ...(options.instance ? { instance: options.instance } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redact(bindings),
      },
      // Errors arrive already redacted as plain objects; pino's own serializer would re-shape them.
      serializers: { err: (err: unknown) => err },
      hooks: {
        logMethod(args, method) {
          const redacted = (args as unknown[]).map((a, i) =>
            // pino reads a leading error as `{ err }`; keep that shape once it is a plain object.
            i === 0 && a instanceof Error ? { err: redact(a) } : redact(a),
          );
          return method.apply(this, redacted as Parameters<typeof method>);
        },
      },
    },
    options.destination as pino.DestinationStream | undefined,
  );
  // Child bindings are serialised once, outside the hooks above: redact them on the way in. Children inherit
  // this method from the root logger and call it with themselves as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with each logger as `this`
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redact(bindings), childOptions);
  } as Logger['child'];
  return logger;
}
