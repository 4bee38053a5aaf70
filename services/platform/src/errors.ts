/**
 * Error classes shared by every service. Each keeps its `cause`; edges (the RPC interceptor, the consumer
 * runner) translate them once.
 */

/** A failure that may succeed if retried later (network, a dependency down). The runner naks with backoff. */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  /** Optional error code for staff and metrics, e.g. `SIAL_CONNECTION`. */
  readonly code: string;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, { cause: options?.cause });
    this.code = options?.code ?? 'TRANSIENT';
  }
}

/** A failure that will not change on retry (a business rule, a missing alumno). The Tarea fails at once. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  /** Optional error code, e.g. `T-007`. */
  readonly code: string;
  /** Partial result details to keep in the Tarea. */
  readonly detalles: Record<string, unknown> | undefined;
  constructor(
    message: string,
    options?: { cause?: unknown; code?: string; detalles?: Record<string, unknown> },
  ) {
    super(message, { cause: options?.cause });
    this.code = options?.code ?? 'PERMANENT';
    this.detalles = options?.detalles;
  }
}

/** One invalid field, with a Spanish description staff can act on. */
export interface FieldError {
  /** Dotted path of the field, e.g. `crontab.minute`. */
  readonly field: string;
  /** What is wrong, in Spanish. */
  readonly message: string;
}

/** Input that can never be processed: it names each invalid field. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly fields: readonly FieldError[];
  constructor(fields: readonly FieldError[], message?: string) {
    super(message ?? fields.map((f) => `${f.field}: ${f.message}`).join('; '));
    this.fields = fields;
  }
}

/** A message whose bytes cannot be decoded with its declared content type. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { cause: options?.cause });
  }
}

/** Thrown (or returned) by a handler that decided the task has nothing to do, e.g. outside its window. */
export class SkipTask extends Error {
  override readonly name = 'SkipTask';
  readonly detalles: Record<string, unknown> | undefined;
  constructor(reason: string, detalles?: Record<string, unknown>) {
    super(reason);
    this.detalles = detalles;
  }
}

/** A missing or invalid configuration variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Message of any thrown value, without stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
