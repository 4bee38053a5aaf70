import { describe, expect, it } from 'vitest';
import { FakeInputError } from './errors.js';
import { isJsonObject, nonNegativeInt, spendFault, type CountedFaultState } from './faults.js';

describe('spendFault', () => {
  it('counts a fault for the next N requests down and drops it after the last', () => {
    const faults: Partial<Record<'status500', CountedFaultState>> = { status500: { remaining: 2 } };
    spendFault(faults, 'status500');
    expect(faults).toEqual({ status500: { remaining: 1 } });
    spendFault(faults, 'status500');
    expect(faults).toEqual({});
  });

  it('keeps a fault without a count until it is cleared', () => {
    const faults = { timeout: { remaining: null, functions: ['x'] } };
    for (let i = 0; i < 3; i++) spendFault(faults, 'timeout');
    expect(faults).toEqual({ timeout: { remaining: null, functions: ['x'] } });
  });

  it('does nothing for a fault that is not set', () => {
    const faults: Partial<Record<'a' | 'b', CountedFaultState>> = { b: { remaining: 1 } };
    spendFault(faults, 'a');
    expect(faults).toEqual({ b: { remaining: 1 } });
  });
});

describe('nonNegativeInt', () => {
  it('accepts whole numbers from 0', () => {
    expect(nonNegativeInt(0, 'latencyMs')).toBe(0);
    expect(nonNegativeInt(250, 'latencyMs')).toBe(250);
  });

  it.each([-1, 1.5, '3', null, true])('refuses %j naming the field', (value) => {
    expect(() => nonNegativeInt(value, 'throttle.count')).toThrow(
      new FakeInputError('throttle.count must be a non-negative integer'),
    );
  });
});

describe('isJsonObject', () => {
  it('tells objects from null, arrays and scalars', () => {
    expect(isJsonObject({})).toBe(true);
    expect([null, [], 'x', 1, undefined].map(isJsonObject)).toEqual([false, false, false, false, false]);
  });
});
