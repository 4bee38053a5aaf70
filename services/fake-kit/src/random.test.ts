import { describe, expect, it } from 'vitest';
import { mulberry32 } from './random.js';

describe('mulberry32', () => {
  it('repeats the same sequence for the same seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, mulberry32(43))).not.toEqual(first);
  });

  it('keeps the published mulberry32 values, so seeded fakes keep their data', () => {
    expect(mulberry32(1)()).toBeCloseTo(0.6270739405881613, 15);
    expect(mulberry32(2 ** 32 + 1)()).toBe(mulberry32(1)());
  });

  it('stays in [0, 1)', () => {
    const random = mulberry32(7);
    for (let i = 0; i < 10_000; i++) {
      const value = random();
      expect(value >= 0 && value < 1).toBe(true);
    }
  });
});
