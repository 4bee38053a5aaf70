import { describe, expect, it } from 'vitest';
import { needsSeconds, resolveMissedRuns, slotTimeText } from './missed-runs.policy.js';
import type { MissedRunPolicy, PeriodicTaskTiming } from './periodic-task.model.js';
import { crontabFromExpression } from './crontab.schedule.js';

const NAME = 'Ingesta diaria de aspirantes (2 AM)';

function task(overrides: Partial<PeriodicTaskTiming> = {}): PeriodicTaskTiming {
  return {
    id: '7',
    name: NAME,
    schedule: { kind: 'crontab', ...crontabFromExpression('0 2 * * *') },
    enabled: true,
    oneOff: false,
    startTime: null,
    expires: null,
    totalRunCount: 3,
    createdAt: new Date('2026-01-01T12:00:00Z'),
    ...overrides,
  };
}

const policy = (mode: MissedRunPolicy['mode'], cap = 10): MissedRunPolicy => ({ mode, cap });
const dueTimes = (slots: { dueAt: Date }[]): string[] => slots.map((s) => s.dueAt.toISOString());

// The scheduler was down from just after the 1 February run until 4 February, 09:00 local.
const lastFiredAt = new Date('2026-02-01T05:00:00Z');
const now = new Date('2026-02-04T12:00:00Z');

describe('missed-run policy', () => {
  it('skip omits every missed slot and logs how many', () => {
    const result = resolveMissedRuns({ task: task(), lastFiredAt, now, policy: policy('skip') });
    expect(result.fire).toEqual([]);
    expect(result.missedCount).toBe(3);
    expect(result.decisions).toEqual([
      {
        kind: 'skipped',
        mode: 'skip',
        count: 3,
        countIsLowerBound: false,
        message: `Se omitieron 3 ejecuciones perdidas de «${NAME}» (política: omitir)`,
      },
    ]);
    expect(result.next?.dueAt.toISOString()).toBe('2026-02-05T05:00:00.000Z');
  });

  it('run_once (the default) fires only the most recent missed slot, under its own slot key', () => {
    const result = resolveMissedRuns({ task: task(), lastFiredAt, now });
    expect(result.fire).toEqual([
      {
        dueAt: new Date('2026-02-04T05:00:00Z'),
        key: '7@2026-02-04T05:00:00.000Z',
        disableAfterFire: false,
        gapShifted: false,
      },
    ]);
    expect(result.decisions.map((d) => [d.kind, d.count])).toEqual([['coalesced', 3]]);
    expect(result.decisions[0]!.message).toBe(
      `Se ejecuta una sola vez «${NAME}» en lugar de 3 ejecuciones perdidas; la última estaba prevista para ` +
        '04/02/2026 02:00 (política: ejecutar una vez)',
    );
  });

  it('run_once lets an on-time slot stand for the missed ones', () => {
    const justAfter = new Date('2026-02-04T05:00:30Z');
    const result = resolveMissedRuns({ task: task(), lastFiredAt, now: justAfter });
    expect(dueTimes(result.fire)).toEqual(['2026-02-04T05:00:00.000Z']);
    expect(result.missedCount).toBe(2);
    expect(result.decisions[0]!.message).toBe(
      `Las 2 ejecuciones perdidas de «${NAME}» se cubren con la ejecución de las 04/02/2026 02:00 ` +
        '(política: ejecutar una vez)',
    );
  });

  it('fires an on-time slot whatever the policy, and reports nothing when nothing was missed', () => {
    const result = resolveMissedRuns({
      task: task(),
      lastFiredAt: new Date('2026-02-03T05:00:00Z'),
      now: new Date('2026-02-04T05:00:10Z'),
      policy: policy('skip'),
    });
    expect(dueTimes(result.fire)).toEqual(['2026-02-04T05:00:00.000Z']);
    expect(result.decisions).toEqual([]);
  });

  it('run_all fires every missed slot, oldest first', () => {
    const result = resolveMissedRuns({ task: task(), lastFiredAt, now, policy: policy('run_all') });
    expect(dueTimes(result.fire)).toEqual([
      '2026-02-02T05:00:00.000Z',
      '2026-02-03T05:00:00.000Z',
      '2026-02-04T05:00:00.000Z',
    ]);
    expect(result.decisions[0]!.message).toBe(
      `Se ejecutan ahora 3 ejecuciones perdidas de «${NAME}», desde 02/02/2026 02:00 hasta 04/02/2026 02:00 ` +
        '(política: ejecutar todas)',
    );
  });

  it('run_all keeps only the most recent slots up to its cap and logs the rest as omitted', () => {
    const hourly = task({
      name: 'Ingesta horaria de preinscriptos',
      schedule: { kind: 'interval', every: 1, period: 'hours' },
      createdAt: new Date('2026-01-01T00:00:00Z'),
    });
    const result = resolveMissedRuns({
      task: hourly,
      lastFiredAt: new Date('2026-02-01T00:00:00Z'),
      now: new Date('2026-02-02T01:30:00Z'),
      policy: policy('run_all', 10),
    });
    expect(result.missedCount).toBe(25);
    expect(dueTimes(result.fire)).toHaveLength(10);
    expect(result.fire[0]!.dueAt.toISOString()).toBe('2026-02-01T16:00:00.000Z');
    expect(result.fire.at(-1)!.dueAt.toISOString()).toBe('2026-02-02T01:00:00.000Z');
    expect(result.decisions.map((d) => [d.kind, d.count])).toEqual([
      ['fired_late', 10],
      ['capped', 15],
    ]);
    expect(result.decisions[1]!.message).toBe(
      'Se omitieron 15 ejecuciones perdidas más antiguas de «Ingesta horaria de preinscriptos» por superar el ' +
        'tope de 10 (política: ejecutar todas)',
    );
  });

  it('counts a minutely interval missed for a year arithmetically', () => {
    const minutely = task({
      schedule: { kind: 'interval', every: 1, period: 'minutes' },
      createdAt: new Date('2025-01-01T00:00:00Z'),
    });
    const result = resolveMissedRuns({
      task: minutely,
      lastFiredAt: new Date('2025-01-01T00:00:00Z'),
      now: new Date('2026-01-01T00:00:30Z'),
      policy: policy('skip'),
      graceMs: 0,
    });
    expect(result.missedCount).toBe(525_600);
    expect(result.decisions[0]!.message).toBe(
      `Se omitieron 525600 ejecuciones perdidas de «${NAME}» (política: omitir)`,
    );
  });

  it('stays bounded for a minutely crontab missed for a year, firing the most recent slots', () => {
    const minutely = task({
      schedule: { kind: 'crontab', ...crontabFromExpression('* * * * *') },
      createdAt: new Date('2024-12-01T00:00:00Z'),
    });
    const result = resolveMissedRuns({
      task: minutely,
      lastFiredAt: new Date('2025-01-01T00:00:00Z'),
      now: new Date('2026-01-01T00:00:30Z'),
      policy: policy('run_all', 10),
    });
    expect(result.missedCountIsLowerBound).toBe(true);
    // The 00:00 slot is 30 s old: on time, fired on top of the 10 most recent missed ones.
    expect(dueTimes(result.fire)).toHaveLength(11);
    expect(result.fire[0]!.dueAt.toISOString()).toBe('2025-12-31T23:50:00.000Z');
    expect(result.fire.at(-1)!.dueAt.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(result.decisions[1]!.message).toMatch(
      /^Se omitieron más de \d+ ejecuciones perdidas más antiguas/,
    );
    expect(result.next?.dueAt.toISOString()).toBe('2026-01-01T00:01:00.000Z');
  });

  it('omits a missed one-off slot under skip and asks to disable the task', () => {
    const oneOff = task({
      oneOff: true,
      totalRunCount: 0,
      schedule: { kind: 'clocked', clockedTime: new Date('2026-01-15T13:00:00Z') },
    });
    const skipped = resolveMissedRuns({ task: oneOff, lastFiredAt: null, now, policy: policy('skip') });
    expect(skipped.fire).toEqual([]);
    expect(skipped.disableTask).toBe(true);
    expect(skipped.next).toBeNull();
    expect(skipped.decisions[0]!.message).toBe(
      `Se omitió 1 ejecución perdida de «${NAME}», prevista para 15/01/2026 10:00 (política: omitir); la tarea ` +
        'se deshabilita por ser de ejecución única',
    );

    const fired = resolveMissedRuns({ task: oneOff, lastFiredAt: null, now });
    expect(fired.fire).toMatchObject([{ dueAt: new Date('2026-01-15T13:00:00Z'), disableAfterFire: true }]);
    expect(fired.disableTask).toBe(true);
  });

  it('does nothing for a disabled task', () => {
    const result = resolveMissedRuns({ task: task({ enabled: false }), lastFiredAt, now });
    expect(result).toEqual({
      fire: [],
      missedCount: 0,
      missedCountIsLowerBound: false,
      decisions: [],
      next: null,
      disableTask: false,
    });
  });

  it('does not fire slots at or after expires', () => {
    const result = resolveMissedRuns({
      task: task({ expires: new Date('2026-02-03T00:00:00Z') }),
      lastFiredAt,
      now,
      policy: policy('run_all'),
    });
    expect(dueTimes(result.fire)).toEqual(['2026-02-02T05:00:00.000Z']);
    expect(result.next).toBeNull();
  });

  it('starts from the task’s first slot when it never ran', () => {
    const result = resolveMissedRuns({
      task: task({ createdAt: new Date('2026-02-02T12:00:00Z') }),
      lastFiredAt: null,
      now,
      policy: policy('run_all'),
    });
    expect(dueTimes(result.fire)).toEqual(['2026-02-03T05:00:00.000Z', '2026-02-04T05:00:00.000Z']);
  });

  describe('grace for every slot', () => {
    // Every 2 s from 01:00:00 Córdoba; the leader fired 01:00:10, then failed over for 10 s.
    const fast = task({
      schedule: { kind: 'interval', every: 2, period: 'seconds' },
      startTime: new Date('2026-02-04T04:00:00Z'),
    });
    const fired = new Date('2026-02-04T04:00:10Z');

    it.each(['skip', 'run_once', 'run_all'] as const)(
      'fires every slot at most the grace late under %s, not only the most recent',
      (mode) => {
        const result = resolveMissedRuns({
          task: fast,
          lastFiredAt: fired,
          now: new Date('2026-02-04T04:00:20.500Z'),
          policy: policy(mode),
        });
        expect(dueTimes(result.fire)).toEqual(
          [12, 14, 16, 18, 20].map((sec) => `2026-02-04T04:00:${sec}.000Z`),
        );
        expect(result.missedCount).toBe(0);
        expect(result.decisions).toEqual([]);
      },
    );

    it('leaves the policy the slots older than the grace and tells sub-minute times with seconds', () => {
      const result = resolveMissedRuns({
        task: fast,
        lastFiredAt: fired,
        now: new Date('2026-02-04T04:01:20.500Z'),
        policy: policy('skip'),
        graceMs: 10_000,
      });
      expect(dueTimes(result.fire)).toEqual(
        [12, 14, 16, 18, 20].map((sec) => `2026-02-04T04:01:${sec}.000Z`),
      );
      expect(result.missedCount).toBe(30);
      expect(result.decisions[0]!.message).toContain('Se omitieron 30 ejecuciones perdidas');
      const once = resolveMissedRuns({
        task: fast,
        lastFiredAt: fired,
        now: new Date('2026-02-04T04:00:50.500Z'),
        policy: policy('run_all'),
        graceMs: 10_000,
      });
      expect(once.decisions[0]!.message).toMatch(/desde 04\/02\/2026 01:00:22 hasta 04\/02\/2026 01:00:40/);
    });
  });
});

describe('slot times as staff read them', () => {
  const minute = Date.UTC(2026, 11, 7, 14, 8, 0);
  it('tells seconds for every slot of a sub-minute interval, one on a whole minute included', () => {
    expect(needsSeconds({ kind: 'interval', every: 2, period: 'seconds' }, [minute])).toBe(true);
    expect(slotTimeText('America/Argentina/Cordoba', minute, true)).toBe('07/12/2026 11:08:00');
  });
  it('tells seconds for a schedule of whole minutes only when a slot is off one', () => {
    const hourly = { kind: 'interval', every: 1, period: 'hours' } as const;
    expect(needsSeconds(hourly, [minute, minute + 3_600_000])).toBe(false);
    expect(needsSeconds(hourly, [minute + 30_000])).toBe(true);
    expect(slotTimeText('America/Argentina/Cordoba', minute, false)).toBe('07/12/2026 11:08');
  });
});
