/**
 * Fault switches of the fake. The same input shape is accepted from tests (`setFaults`) and over HTTP
 * (`POST /__fake/faults`), so it is validated as unknown JSON.
 */
import { FakeInputError, isJsonObject, nonNegativeInt, spendFault } from '@lucy/fake-kit';

/** Which SIAL endpoints a fault applies to. */
export type FaultEndpoints = 'list' | 'personal' | 'both';

/** A fault that fires on matching requests: `true` until cleared, a number for the next N, or the long form. */
export type CountedFaultInput = boolean | number | { count?: number; endpoints?: FaultEndpoints };

/**
 * How a record's shape changes under the `shape` fault:
 * - `nrodoc_renamed`: `nrodoc` is sent as `nro_documento` (list and personal data);
 * - `carreras_object`: `carreras` is one object instead of an array (list only);
 * - `not_array`: the body is `{"resultados": [...]}` instead of an array.
 */
export type ShapeVariant = 'nrodoc_renamed' | 'carreras_object' | 'not_array';

/** The ways a record is broken under the `badRecords` fault, applied in this order, cycling. */
export type BadRecordKind = 'sin_nrodoc' | 'nrodoc_texto' | 'carreras_no_array' | 'fecha_invalida';

export const BAD_RECORD_KINDS: readonly BadRecordKind[] = [
  'sin_nrodoc',
  'nrodoc_texto',
  'carreras_no_array',
  'fecha_invalida',
];

/** Fault settings; fields left out keep their current value, `false`/`0` clears one. */
export interface FakeSialFaultsInput {
  /** Answer 500 `{"detail":"Error interno del servidor"}`. */
  status500?: CountedFaultInput;
  /** Never answer (the client must time out). */
  timeout?: CountedFaultInput;
  /** 200 with a truncated, invalid JSON body. */
  malformed?: CountedFaultInput;
  /** 200 with `[]`. */
  empty?: CountedFaultInput;
  /** 200 with a proxy's HTML error page instead of JSON. */
  html200?: CountedFaultInput;
  /** 502 with a proxy's HTML error page (`text/html`). */
  html502?: CountedFaultInput;
  /** A changed record shape, until cleared. */
  shape?: ShapeVariant | false | { variant: ShapeVariant; endpoints?: FaultEndpoints };
  /** The first N records of every list response are broken (see {@link BadRecordKind}), until cleared. */
  badRecords?: number | false | { count: number; kinds?: BadRecordKind[] };
  /** Added to every SIAL response, in ms. */
  latencyMs?: number;
  /** Default `endpoints` for the short forms above; `both` when absent. */
  endpoints?: FaultEndpoints;
}

/** A counted fault after normalisation: `remaining` null means until cleared. */
export interface CountedFault {
  remaining: number | null;
  endpoints: FaultEndpoints;
}

/** The normalised fault state, as `state()` and `GET /__fake/state` show it. */
export interface FakeSialFaults {
  status500?: CountedFault;
  timeout?: CountedFault;
  malformed?: CountedFault;
  empty?: CountedFault;
  html200?: CountedFault;
  html502?: CountedFault;
  shape?: { variant: ShapeVariant; endpoints: FaultEndpoints };
  badRecords?: { count: number; kinds: BadRecordKind[] };
  latencyMs?: number;
}

/** The counted faults, in the order they are checked. */
export const COUNTED_FAULTS = ['timeout', 'status500', 'html502', 'html200', 'malformed', 'empty'] as const;
export type CountedFaultName = (typeof COUNTED_FAULTS)[number];

const ENDPOINTS: readonly FaultEndpoints[] = ['list', 'personal', 'both'];
const SHAPES: readonly ShapeVariant[] = ['nrodoc_renamed', 'carreras_object', 'not_array'];
const KNOWN_KEYS = new Set([...COUNTED_FAULTS, 'shape', 'badRecords', 'latencyMs', 'endpoints']);

function parseEndpoints(value: unknown, fallback: FaultEndpoints, field: string): FaultEndpoints {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (ENDPOINTS as readonly string[]).includes(value))
    return value as FaultEndpoints;
  throw new FakeInputError(`${field} must be one of ${ENDPOINTS.join(', ')}`);
}

function parseCounted(value: unknown, endpoints: FaultEndpoints, field: string): CountedFault | undefined {
  if (value === false || value === 0 || value === null) return undefined;
  if (value === true) return { remaining: null, endpoints };
  if (typeof value === 'number') return { remaining: nonNegativeInt(value, field), endpoints };
  if (isJsonObject(value)) {
    const remaining = value.count === undefined ? null : nonNegativeInt(value.count, `${field}.count`);
    if (remaining === 0) return undefined;
    return { remaining, endpoints: parseEndpoints(value.endpoints, endpoints, `${field}.endpoints`) };
  }
  throw new FakeInputError(`${field} must be true, false, a count or {count, endpoints}`);
}

/**
 * Applies a fault input (unknown JSON) on top of the current faults and returns the new state.
 * @throws FakeInputError naming the offending field.
 */
export function mergeFaults(current: FakeSialFaults, input: unknown): FakeSialFaults {
  if (!isJsonObject(input)) throw new FakeInputError('faults must be a JSON object');
  for (const k of Object.keys(input)) {
    if (!KNOWN_KEYS.has(k)) throw new FakeInputError(`unknown fault "${k}"`);
  }
  const next: FakeSialFaults = { ...current };
  const endpoints = parseEndpoints(input.endpoints, 'both', 'endpoints');
  for (const name of COUNTED_FAULTS) {
    if (name in input) {
      const fault = parseCounted(input[name], endpoints, name);
      if (fault) next[name] = fault;
      else delete next[name];
    }
  }
  if ('shape' in input) {
    const shape = input.shape;
    if (shape === false || shape === null) delete next.shape;
    else if (typeof shape === 'string' && (SHAPES as readonly string[]).includes(shape)) {
      next.shape = { variant: shape as ShapeVariant, endpoints };
    } else if (
      isJsonObject(shape) &&
      typeof shape.variant === 'string' &&
      (SHAPES as readonly string[]).includes(shape.variant)
    ) {
      next.shape = {
        variant: shape.variant as ShapeVariant,
        endpoints: parseEndpoints(shape.endpoints, endpoints, 'shape.endpoints'),
      };
    } else throw new FakeInputError(`shape must be false or one of ${SHAPES.join(', ')}`);
  }
  if ('badRecords' in input) {
    const bad = input.badRecords;
    if (bad === false || bad === null || bad === 0) delete next.badRecords;
    else if (typeof bad === 'number')
      next.badRecords = { count: nonNegativeInt(bad, 'badRecords'), kinds: [...BAD_RECORD_KINDS] };
    else if (isJsonObject(bad)) {
      const kinds = bad.kinds === undefined ? [...BAD_RECORD_KINDS] : bad.kinds;
      if (
        !Array.isArray(kinds) ||
        kinds.length === 0 ||
        !kinds.every((k) => (BAD_RECORD_KINDS as readonly unknown[]).includes(k))
      ) {
        throw new FakeInputError(
          `badRecords.kinds must be a non-empty list of ${BAD_RECORD_KINDS.join(', ')}`,
        );
      }
      next.badRecords = {
        count: nonNegativeInt(bad.count, 'badRecords.count'),
        kinds: kinds as BadRecordKind[],
      };
    } else throw new FakeInputError('badRecords must be false, a count or {count, kinds}');
  }
  if ('latencyMs' in input) {
    if (input.latencyMs === null || input.latencyMs === false) delete next.latencyMs;
    else next.latencyMs = nonNegativeInt(input.latencyMs, 'latencyMs');
  }
  return next;
}

/** Whether a fault scoped to `endpoints` applies to a request on `endpoint`. */
export function appliesTo(endpoints: FaultEndpoints, endpoint: 'list' | 'personal'): boolean {
  return endpoints === 'both' || endpoints === endpoint;
}

/**
 * Consumes the first counted fault that applies to a request, in the order of {@link COUNTED_FAULTS},
 * and returns its name; decrements its count and drops it when exhausted.
 */
export function takeFault(
  faults: FakeSialFaults,
  endpoint: 'list' | 'personal',
): CountedFaultName | undefined {
  for (const name of COUNTED_FAULTS) {
    const fault = faults[name];
    if (!fault || !appliesTo(fault.endpoints, endpoint)) continue;
    spendFault(faults, name);
    return name;
  }
  return undefined;
}
