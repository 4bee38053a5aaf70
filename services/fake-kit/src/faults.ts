/**
 * Building blocks of the fakes' fault switches. Each fake keeps its own input shape and validation (what a fault
 * targets, its reply, how it is written differ); what they share is reading unknown JSON and counting firings.
 */
import { FakeInputError } from './errors.js';
import { isNonNegativeInt } from './env.js';

/** Whether a JSON value is an object (not null, not an array). */
export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads a count, delay or code that must be a whole number ≥ 0.
 * @param field the input's path, for the message (`throttle.count`).
 * @throws FakeInputError `${field} must be a non-negative integer`.
 */
export function nonNegativeInt(value: unknown, field: string): number {
  if (isNonNegativeInt(value)) return value;
  throw new FakeInputError(`${field} must be a non-negative integer`);
}

/** A fault that fires on the next `remaining` matching requests, or until cleared when `remaining` is null. */
export interface CountedFaultState {
  remaining: number | null;
}

/**
 * Records that `faults[name]` fired once: decrements its `remaining` and removes it from `faults` when none is
 * left. A fault without a count (`remaining: null`) stays until cleared.
 */
export function spendFault<K extends string>(faults: Partial<Record<K, CountedFaultState>>, name: K): void {
  const fault = faults[name];
  if (!fault || fault.remaining === null) return;
  fault.remaining--;
  if (fault.remaining <= 0) delete faults[name];
}
