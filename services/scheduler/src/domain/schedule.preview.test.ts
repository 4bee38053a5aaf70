import { describe, expect, it } from 'vitest';
import { previewSchedule, previewTask } from './schedule.preview.js';
import { crontabFromExpression } from './crontab.schedule.js';
import { ScheduleValidationError } from './validation.error.js';
import type { Schedule } from './schedule.model.js';

const crontab = (expression: string, zone?: string): Schedule => ({
  kind: 'crontab',
  ...crontabFromExpression(expression, zone),
});

describe('schedule preview', () => {
  it('shows each run in UTC and in the schedule’s local time with its offset', () => {
    expect(previewSchedule(crontab('0 2 * * *'), new Date('2026-02-01T00:00:00Z'), { count: 2 })).toEqual([
      {
        at: '2026-02-01T05:00:00.000Z',
        localTime: '2026-02-01T02:00:00',
        utcOffset: '-03:00',
        timeZone: 'America/Argentina/Cordoba',
        dst: null,
      },
      {
        at: '2026-02-02T05:00:00.000Z',
        localTime: '2026-02-02T02:00:00',
        utcOffset: '-03:00',
        timeZone: 'America/Argentina/Cordoba',
        dst: null,
      },
    ]);
  });

  it('marks the Madrid spring-forward run as shifted out of the gap, and the next one as a new offset', () => {
    const runs = previewSchedule(crontab('30 2 * * *', 'Europe/Madrid'), new Date('2026-03-28T00:00:00Z'), {
      count: 3,
    });
    expect(runs.map((r) => [r.localTime, r.utcOffset, r.dst, r.scheduledLocalTime])).toEqual([
      ['2026-03-28T02:30:00', '+01:00', null, undefined],
      ['2026-03-29T03:00:00', '+02:00', 'gap_shifted', '2026-03-29T02:30:00'],
      ['2026-03-30T02:30:00', '+02:00', null, undefined],
    ]);
  });

  it('marks the fall-back runs as first and second occurrences of the repeated hour', () => {
    const runs = previewSchedule(crontab('0 * * * *', 'Europe/Madrid'), new Date('2026-10-24T23:30:00Z'), {
      count: 3,
    });
    expect(runs.map((r) => [r.at, r.localTime, r.utcOffset, r.dst])).toEqual([
      ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00', '+02:00', 'fold_first'],
      ['2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00', '+01:00', 'fold_second'],
      ['2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00', '+01:00', null],
    ]);
  });

  it('shows interval runs in the chosen zone and marks the offset change', () => {
    const runs = previewSchedule(
      { kind: 'interval', every: 1, period: 'days' },
      new Date('2026-03-28T11:00:00Z'),
      { count: 2, timeZone: 'Europe/Madrid' },
    );
    expect(runs.map((r) => [r.localTime, r.dst])).toEqual([
      ['2026-03-29T13:00:00', 'offset_changed'],
      ['2026-03-30T13:00:00', null],
    ]);
  });

  it('honours the task rules: a one-off task previews a single run', () => {
    const runs = previewTask(
      {
        id: '1',
        name: 'Una vez',
        schedule: crontab('0 2 * * *'),
        enabled: true,
        oneOff: true,
        startTime: null,
        expires: null,
        totalRunCount: 0,
        createdAt: new Date('2026-02-01T00:00:00Z'),
      },
      new Date('2026-02-01T00:00:00Z'),
      { count: 5 },
    );
    expect(runs.map((r) => r.at)).toEqual(['2026-02-01T05:00:00.000Z']);
  });

  it('returns nothing for a crontab that never fires', () => {
    expect(previewSchedule(crontab('0 0 31 2 *'), new Date('2026-01-01T00:00:00Z'))).toEqual([]);
  });

  it('refuses more than 100 runs', () => {
    expect(() => previewSchedule(crontab('* * * * *'), new Date(), { count: 101 })).toThrow(
      ScheduleValidationError,
    );
  });
});
