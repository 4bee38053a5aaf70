/**
 * Fault switches of the fake. The same input shape is accepted from tests (`setFaults`) and over HTTP
 * (`POST /__fake/faults`), so it is validated as unknown JSON.
 */
import { FakeInputError, isJsonObject, nonNegativeInt, spendFault, type Random } from '@lucy/fake-kit';

// Raised for invalid input to the fake's own controls (never for Graph requests); part of this package's API.
export { FakeInputError };

/** Which Graph requests a fault applies to: reads (GET), writes (POST/PATCH/PUT/DELETE) or both. */
export type FaultTarget = 'read' | 'write' | 'all';

/**
 * A fault that fires on matching Graph requests: `true` until cleared, a number for the next N, or the long form.
 * `ratio` (0–1) fires on that share of matching requests instead of all of them (a seeded sequence, so runs
 * repeat); `count` then counts the requests it fired on.
 */
export type CountedFaultInput =
  boolean | number | { count?: number; ratio?: number; target?: FaultTarget; retryAfterSeconds?: number };

/** Fault settings; fields left out keep their current value, `false`/`0` clears one. */
export interface FakeGraphFaultsInput {
  /** 429 `TooManyRequests` with `Retry-After` (default 1 s; `retryAfterSeconds` in the long form). */
  throttle?: CountedFaultInput;
  /** 503 `ServiceNotAvailable` with `Retry-After` (default 1 s). */
  status503?: CountedFaultInput;
  /** 500 `InternalServerError`. */
  status500?: CountedFaultInput;
  /** 403 `Authorization_RequestDenied` "Insufficient privileges to complete the operation." */
  forbidden?: CountedFaultInput;
  /** Users created while set are invisible (404 `Request_ResourceNotFound`) for this many ms. */
  replicationLagMs?: number;
  /** Added to every Graph and token response, in ms. */
  latencyMs?: number;
  /** Default `target` for the short forms above; `all` when absent. */
  target?: FaultTarget;
}

/** A counted fault after normalisation: `remaining` null means until cleared, `ratio` null means every request. */
export interface CountedFault {
  remaining: number | null;
  ratio: number | null;
  target: FaultTarget;
  retryAfterSeconds: number;
}

/** The normalised fault state, as `state()` and `GET /__fake/state` show it. */
export interface FakeGraphFaults {
  throttle?: CountedFault;
  status503?: CountedFault;
  status500?: CountedFault;
  forbidden?: CountedFault;
  replicationLagMs?: number;
  latencyMs?: number;
}

/** The counted faults, in the order they are checked. */
export const COUNTED_FAULTS = ['throttle', 'status503', 'status500', 'forbidden'] as const;
export type CountedFaultName = (typeof COUNTED_FAULTS)[number];

const TARGETS: readonly FaultTarget[] = ['read', 'write', 'all'];
const KNOWN_KEYS = new Set<string>([...COUNTED_FAULTS, 'replicationLagMs', 'latencyMs', 'target']);

function parseTarget(value: unknown, fallback: FaultTarget, field: string): FaultTarget {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (TARGETS as readonly string[]).includes(value))
    return value as FaultTarget;
  throw new FakeInputError(`${field} must be one of ${TARGETS.join(', ')}`);
}

function parseCounted(value: unknown, target: FaultTarget, field: string): CountedFault | undefined {
  if (value === false || value === 0 || value === null) return undefined;
  const base = { ratio: null, target, retryAfterSeconds: 1 };
  if (value === true) return { ...base, remaining: null };
  if (typeof value === 'number') return { ...base, remaining: nonNegativeInt(value, field) };
  if (isJsonObject(value)) {
    const remaining = value.count === undefined ? null : nonNegativeInt(value.count, `${field}.count`);
    if (remaining === 0) return undefined;
    let ratio: number | null = null;
    if (value.ratio !== undefined) {
      if (typeof value.ratio !== 'number' || !(value.ratio > 0 && value.ratio <= 1)) {
        throw new FakeInputError(`${field}.ratio must be a number in (0, 1]`);
      }
      ratio = value.ratio;
    }
    return {
      remaining,
      ratio,
      target: parseTarget(value.target, target, `${field}.target`),
      retryAfterSeconds:
        value.retryAfterSeconds === undefined
          ? 1
          : nonNegativeInt(value.retryAfterSeconds, `${field}.retryAfterSeconds`),
    };
  }
  throw new FakeInputError(
    `${field} must be true, false, a count or {count, ratio, target, retryAfterSeconds}`,
  );
}

/**
 * Applies a fault input (unknown JSON) on top of the current faults and returns the new state.
 * @throws FakeInputError naming the offending field.
 */
export function mergeFaults(current: FakeGraphFaults, input: unknown): FakeGraphFaults {
  if (!isJsonObject(input)) throw new FakeInputError('faults must be a JSON object');
  for (const k of Object.keys(input)) {
    if (!KNOWN_KEYS.has(k)) throw new FakeInputError(`unknown fault "${k}"`);
  }
  const next: FakeGraphFaults = structuredClone(current);
  const target = parseTarget(input.target, 'all', 'target');
  for (const name of COUNTED_FAULTS) {
    if (name in input) {
      const fault = parseCounted(input[name], target, name);
      if (fault) next[name] = fault;
      else delete next[name];
    }
  }
  for (const name of ['replicationLagMs', 'latencyMs'] as const) {
    if (name in input) {
      const value = input[name];
      if (value === null || value === false || value === 0) delete next[name];
      else next[name] = nonNegativeInt(value, name);
    }
  }
  return next;
}

/**
 * Consumes the first counted fault that fires for a request of `kind`, in the order throttle, status503, status500,
 * forbidden, and returns it with its name; decrements its count and drops it when exhausted.
 */
export function takeFault(
  faults: FakeGraphFaults,
  kind: 'read' | 'write',
  random: Random,
): { name: CountedFaultName; fault: CountedFault } | undefined {
  for (const name of COUNTED_FAULTS) {
    const fault = faults[name];
    if (!fault || (fault.target !== 'all' && fault.target !== kind)) continue;
    if (fault.ratio !== null && random() >= fault.ratio) continue;
    const taken = { ...fault };
    spendFault(faults, name);
    return { name, fault: taken };
  }
  return undefined;
}
