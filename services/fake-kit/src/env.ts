/** Environment readers for a fake's `main.ts`; a bad value throws {@link FakeConfigError} (exit 2 in `runFake`). */
import { FakeConfigError } from './errors.js';

/** Where variables are read from; `process.env` by default, a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Whether a value is a whole number ≥ 0 (the shape of ports, sizes, counts and delays in ms). */
export const isNonNegativeInt = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;

/**
 * Reads a non-negative integer (port, size, count, ms). Unset or blank gives `fallback`.
 * @throws FakeConfigError `${name} must be a non-negative integer`, with the raw `value`.
 */
export function intEnv(name: string, fallback: number, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!isNonNegativeInt(value)) {
    throw new FakeConfigError(`${name} must be a non-negative integer`, { value: raw });
  }
  return value;
}

/** Reads a string; unset or empty gives `fallback` (`undefined` when none is given). */
export function stringEnv(name: string, fallback: string, env?: Env): string;
export function stringEnv(name: string, fallback?: undefined, env?: Env): string | undefined;
export function stringEnv(name: string, fallback?: string, env: Env = process.env): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}
