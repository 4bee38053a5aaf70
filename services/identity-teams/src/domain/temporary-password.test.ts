import { describe, expect, it } from 'vitest';
import {
  AMBIGUOUS_CHARACTERS,
  generateTemporaryPassword,
  isAcceptableTemporaryPassword,
} from './temporary-password.js';

const classesOf = (p: string): number =>
  [/[A-Z]/, /[a-z]/, /\d/, /[^A-Za-z\d]/].filter((re) => re.test(p)).length;

describe('generateTemporaryPassword', () => {
  it('has 16 characters from all four classes and nothing ambiguous, every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const p = generateTemporaryPassword();
      expect(p).toHaveLength(16);
      expect(classesOf(p)).toBe(4);
      expect([...p].filter((c) => AMBIGUOUS_CHARACTERS.includes(c))).toEqual([]);
      expect(p).not.toMatch(/["'<>&\s\\`]/);
      seen.add(p);
    }
    expect(seen.size).toBe(500);
  });

  it('keeps the four classes even when the random source is as unlucky as it can be', () => {
    const p = generateTemporaryPassword({ length: 12, randomInt: () => 0 });
    expect(p).toHaveLength(12);
    expect(classesOf(p)).toBe(4);
    expect(isAcceptableTemporaryPassword(p)).toBe(true);
  });

  it('refuses lengths under 12 or over 256', () => {
    expect(() => generateTemporaryPassword({ length: 11 })).toThrow(RangeError);
    expect(() => generateTemporaryPassword({ length: 257 })).toThrow(RangeError);
    expect(generateTemporaryPassword({ length: 256 })).toHaveLength(256);
  });
});

describe('isAcceptableTemporaryPassword', () => {
  it('wants 12 characters, three classes and no ambiguous character', () => {
    expect(isAcceptableTemporaryPassword('Abcdefghijk2')).toBe(true);
    expect(isAcceptableTemporaryPassword('Abcdefghij2')).toBe(false);
    expect(isAcceptableTemporaryPassword('abcdefghijk2')).toBe(false);
    expect(isAcceptableTemporaryPassword('Abcdefghijk0')).toBe(false);
    expect(isAcceptableTemporaryPassword('abcdefghij#2')).toBe(true);
  });
});
