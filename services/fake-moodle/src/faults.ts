/**
 * Fault switches of the Moodle fake. The same input shape is accepted from tests (`setFaults`) and over HTTP
 * (`POST /__fake/faults`), so it is validated as unknown JSON.
 */
import { FakeInputError, isJsonObject, nonNegativeInt, spendFault } from '@lucy/fake-kit';

// A fault input is not valid; answered 400 on the control API. Part of this package's API.
export { FakeInputError };

/**
 * A fault that fires on matching web-service calls: `true` until cleared, a number for the next N calls, or the
 * long form; `functions` limits it to some `wsfunction`s.
 */
export type CountedFaultInput = boolean | number | { count?: number; functions?: string[] };

/** Fault settings; fields left out keep their current value, `false`/`0` clears one. */
export interface FakeMoodleFaultsInput {
  /** Never answer (the client must time out). */
  timeout?: CountedFaultInput;
  /** HTTP 500 with the web server's HTML error page. */
  status500?: CountedFaultInput;
  /** HTTP 503 with an HTML "site under maintenance" page, as during an upgrade. */
  status503?: CountedFaultInput;
  /** HTTP 200 with a Moodle HTML error page instead of JSON (a PHP error before the REST layer answers). */
  html?: CountedFaultInput;
  /** `invalidtoken` whatever token was sent, as after the token was revoked or expired. */
  invalidToken?: CountedFaultInput;
  /** Added to every web-service answer, in ms. */
  latencyMs?: number | false | null;
  /** Default `functions` for the short forms above; every function when absent. */
  functions?: string[];
}

/** A counted fault after normalisation: `remaining` null means until cleared; `functions` null means all. */
export interface CountedFault {
  remaining: number | null;
  functions: string[] | null;
}

/** The normalised fault state, as `state()` and `GET /__fake/state` show it. */
export interface FakeMoodleFaults {
  timeout?: CountedFault;
  status500?: CountedFault;
  status503?: CountedFault;
  html?: CountedFault;
  invalidToken?: CountedFault;
  latencyMs?: number;
}

/** The counted faults, in the order they are checked. */
export const COUNTED_FAULTS = ['timeout', 'status500', 'status503', 'html', 'invalidToken'] as const;
export type CountedFaultName = (typeof COUNTED_FAULTS)[number];

const KNOWN_KEYS = new Set<string>([...COUNTED_FAULTS, 'latencyMs', 'functions']);

function parseFunctions(value: unknown, field: string): string[] | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value) && value.length > 0 && value.every((f) => typeof f === 'string' && f !== '')) {
    return [...(value as string[])];
  }
  throw new FakeInputError(`${field} must be a non-empty list of wsfunction names`);
}

function parseCounted(value: unknown, functions: string[] | null, field: string): CountedFault | undefined {
  if (value === false || value === 0 || value === null) return undefined;
  if (value === true) return { remaining: null, functions };
  if (typeof value === 'number') return { remaining: nonNegativeInt(value, field), functions };
  if (isJsonObject(value)) {
    const remaining = value.count === undefined ? null : nonNegativeInt(value.count, `${field}.count`);
    if (remaining === 0) return undefined;
    const own = parseFunctions(value.functions, `${field}.functions`);
    return { remaining, functions: own ?? functions };
  }
  throw new FakeInputError(`${field} must be true, false, a count or {count, functions}`);
}

/**
 * Applies a fault input (unknown JSON) on top of the current faults and returns the new state.
 * @throws FakeInputError naming the offending field.
 */
export function mergeFaults(current: FakeMoodleFaults, input: unknown): FakeMoodleFaults {
  if (!isJsonObject(input)) throw new FakeInputError('faults must be a JSON object');
  for (const k of Object.keys(input)) {
    if (!KNOWN_KEYS.has(k)) throw new FakeInputError(`unknown fault "${k}"`);
  }
  const next: FakeMoodleFaults = structuredClone(current);
  const functions = parseFunctions(input.functions, 'functions');
  for (const name of COUNTED_FAULTS) {
    if (!(name in input)) continue;
    const fault = parseCounted(input[name], functions, name);
    if (fault) next[name] = fault;
    else delete next[name];
  }
  if ('latencyMs' in input) {
    if (input.latencyMs === null || input.latencyMs === false) delete next.latencyMs;
    else next.latencyMs = nonNegativeInt(input.latencyMs, 'latencyMs');
  }
  return next;
}

/**
 * Consumes the first counted fault that applies to a call of `wsfunction`, in the order timeout, status500,
 * status503, html, invalidToken, and returns its name; decrements its count and drops it when exhausted.
 */
export function takeFault(faults: FakeMoodleFaults, wsfunction: string): CountedFaultName | undefined {
  for (const name of COUNTED_FAULTS) {
    const fault = faults[name];
    if (!fault || (fault.functions !== null && !fault.functions.includes(wsfunction))) continue;
    spendFault(faults, name);
    return name;
  }
  return undefined;
}
