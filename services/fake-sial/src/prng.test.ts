import { describe, expect, it } from 'vitest';
import { hash32, randomFor } from './prng.js';

// Pinned: every generated record derives from these, so a seed must keep giving the same values.
describe('fake SIAL prng', () => {
  it('hashes and draws the same values for the same parts', () => {
    expect(hash32(1, 2, 3)).toBe(1648449506);
    const random = randomFor(1, 2, 3);
    expect([random(), random(), random()]).toEqual([
      0.8466450204141438, 0.9149591573514044, 0.2860994995571673,
    ]);
  });
});
