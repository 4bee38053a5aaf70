/** A validation problem tied to one input field, worded in Spanish for the staff who typed it. */
export interface FieldError {
  /**
   * Dotted path of the field, with proto / django-celery-beat field names (snake_case):
   * `crontab.minute`, `interval.every`, `start_time`, `kwargs.desde`, `schedule`...
   */
  field: string;
  /** What is wrong and how to fix it, in Spanish (es-AR). */
  message: string;
}

/** The outcome of validating an input: the normalised value, or every problem found (never just the first). */
export type Validated<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

/**
 * Thrown when a domain function receives a schedule or argument that does not validate. Callers that take
 * input from people validate first (`validateSchedule`, `validatePeriodicTask`) and show `errors`; this error
 * only guards the pure functions against data that skipped validation.
 */
export class ScheduleValidationError extends Error {
  override readonly name = 'ScheduleValidationError';
  readonly errors: readonly FieldError[];

  constructor(errors: readonly FieldError[], options?: { cause?: unknown }) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '), options);
    this.errors = errors;
  }
}

/** Returns the value of a validation, or throws {@link ScheduleValidationError} with its errors. */
export function unwrapValidated<T>(result: Validated<T>): T {
  if (!result.ok) throw new ScheduleValidationError(result.errors);
  return result.value;
}
