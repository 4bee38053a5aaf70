import { describe, expect, it } from 'vitest';
import {
  describeInterval,
  intervalMs,
  intervalSlotAtOrAfter,
  intervalSlotRange,
  validateInterval,
} from './interval.schedule.js';
import { nextScheduleFire } from './schedule.model.js';

const HOUR = 3_600_000;

describe('interval schedule', () => {
  it('fires the manual’s hourly example on the hour of its anchor: created 10:17, fires 11:17, 12:17', () => {
    const schedule = { kind: 'interval' as const, every: 1, period: 'hours' as const };
    const created = new Date('2026-01-05T13:17:00Z');
    const first = nextScheduleFire(schedule, created, { anchor: created });
    const second = nextScheduleFire(schedule, first!, { anchor: created });
    expect(first?.toISOString()).toBe('2026-01-05T14:17:00.000Z');
    expect(second?.toISOString()).toBe('2026-01-05T15:17:00.000Z');
  });

  it('keeps slots aligned on the anchor however late it is asked', () => {
    const anchor = Date.parse('2026-01-05T13:17:00Z');
    expect(
      new Date(intervalSlotAtOrAfter(anchor, HOUR, Date.parse('2026-01-07T09:59:59Z'))).toISOString(),
    ).toBe('2026-01-07T10:17:00.000Z');
    expect(intervalSlotAtOrAfter(anchor, HOUR, anchor + 2 * HOUR)).toBe(anchor + 2 * HOUR);
    expect(intervalSlotAtOrAfter(anchor, HOUR, anchor - 10 * HOUR)).toBe(anchor + HOUR);
  });

  it('ignores DST: a 24-hour interval stays 24 real hours across Madrid’s spring forward', () => {
    const schedule = { kind: 'interval' as const, every: 1, period: 'days' as const };
    const anchor = new Date('2026-03-28T01:30:00Z');
    expect(nextScheduleFire(schedule, anchor, { anchor })?.toISOString()).toBe('2026-03-29T01:30:00.000Z');
  });

  it('counts slots in a span arithmetically', () => {
    const anchor = 0;
    expect(intervalSlotRange(anchor, 60_000, -Infinity, 365 * 24 * HOUR)).toEqual({
      first: 1,
      last: 525_600,
    });
    expect(intervalSlotRange(anchor, HOUR, 2 * HOUR, 5 * HOUR + 1)).toEqual({ first: 3, last: 5 });
  });

  it('validates every and period with Spanish messages', () => {
    expect(validateInterval({ every: 0, period: 'weeks' })).toEqual({
      ok: false,
      errors: [
        { field: 'interval.every', message: 'Debe ser un entero positivo' },
        {
          field: 'interval.period',
          message: 'Período inválido «weeks»: use days, hours, minutes, seconds o microseconds',
        },
      ],
    });
    expect(validateInterval({ every: 1.5, period: 'hours' }).ok).toBe(false);
    expect(validateInterval({ every: 500, period: 'microseconds' })).toEqual({
      ok: false,
      errors: [{ field: 'interval.every', message: 'El intervalo mínimo es de 1 segundo' }],
    });
    expect(validateInterval({ every: 1_500_500, period: 'microseconds' }).ok).toBe(false);
    expect(intervalMs({ every: 2_000_000, period: 'microseconds' })).toBe(2_000);
  });

  it('describes itself as the manual does', () => {
    expect(describeInterval({ every: 1, period: 'hours' })).toBe('Cada 1 hora');
    expect(describeInterval({ every: 30, period: 'minutes' })).toBe('Cada 30 minutos');
    expect(describeInterval({ every: 1, period: 'days' })).toBe('Cada 1 día');
  });
});
