import { describe, expect, it } from 'vitest';
import { pgDate } from './tarea.repository.js';

describe('pgDate', () => {
  it('reads timestamptz text as the ORM pool returns it', () => {
    expect(pgDate('2026-11-28 20:44:04.171+00')?.toISOString()).toBe('2026-11-28T20:44:04.171Z');
    expect(pgDate('2026-11-28 17:44:04-03')?.toISOString()).toBe('2026-11-28T20:44:04.000Z');
    expect(pgDate('2026-11-28 23:14:04+05:30')?.toISOString()).toBe('2026-11-28T17:44:04.000Z');
  });

  it('passes Dates through and keeps nulls', () => {
    const d = new Date();
    expect(pgDate(d)).toBe(d);
    expect(pgDate(null)).toBeNull();
  });
});
