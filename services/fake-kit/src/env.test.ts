import { describe, expect, it } from 'vitest';
import { intEnv, stringEnv } from './env.js';
import { FakeConfigError } from './errors.js';

describe('intEnv', () => {
  it('reads a non-negative integer', () => {
    expect(intEnv('PORT', 80, { PORT: '8089' })).toBe(8089);
    expect(intEnv('PORT', 80, { PORT: '0' })).toBe(0);
  });

  it('falls back when the variable is unset or blank', () => {
    expect(intEnv('PORT', 80, {})).toBe(80);
    expect(intEnv('PORT', 80, { PORT: '  ' })).toBe(80);
  });

  it.each(['no-es-un-puerto', '-1', '1.5', '0x'])('refuses %j naming the variable and the value', (raw) => {
    const read = (): number => intEnv('FAKE_X_PORT', 80, { FAKE_X_PORT: raw });
    expect(read).toThrow(FakeConfigError);
    expect(read).toThrow('FAKE_X_PORT must be a non-negative integer');
    try {
      read();
    } catch (err) {
      expect((err as FakeConfigError).fields).toEqual({ value: raw });
    }
  });

  it('reads process.env by default', () => {
    process.env.FAKE_KIT_TEST_INT = '7';
    try {
      expect(intEnv('FAKE_KIT_TEST_INT', 1)).toBe(7);
    } finally {
      delete process.env.FAKE_KIT_TEST_INT;
    }
  });
});

describe('stringEnv', () => {
  it('reads a value, and falls back when it is unset or empty', () => {
    expect(stringEnv('HOST', '127.0.0.1', { HOST: '0.0.0.0' })).toBe('0.0.0.0');
    expect(stringEnv('HOST', '127.0.0.1', { HOST: '' })).toBe('127.0.0.1');
    expect(stringEnv('HOST', '127.0.0.1', {})).toBe('127.0.0.1');
  });

  it('gives undefined for an unset or empty variable without a fallback', () => {
    expect(stringEnv('SITE_URL', undefined, {})).toBeUndefined();
    expect(stringEnv('SITE_URL', undefined, { SITE_URL: '' })).toBeUndefined();
  });
});
