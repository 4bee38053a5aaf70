import { describe, expect, it } from 'vitest';
import { nextDue, validatePeriodicTask, type PeriodicTaskTiming } from './periodic-task.model.js';
import { crontabFromExpression } from './crontab.schedule.js';
import type { Schedule } from './schedule.model.js';

const daily2am: Schedule = { kind: 'crontab', ...crontabFromExpression('0 2 * * *') };
const hourly: Schedule = { kind: 'interval', every: 1, period: 'hours' };

function task(overrides: Partial<PeriodicTaskTiming> = {}): PeriodicTaskTiming {
  return {
    id: '7',
    name: 'Ingesta diaria de aspirantes (2 AM)',
    schedule: daily2am,
    enabled: true,
    oneOff: false,
    startTime: null,
    expires: null,
    totalRunCount: 0,
    createdAt: new Date('2026-01-01T12:00:00Z'),
    ...overrides,
  };
}

const iso = (value: { dueAt: Date } | null): string | null => value?.dueAt.toISOString() ?? null;

describe('periodic task: next due slot', () => {
  it('returns the schedule’s next fire with its slot key', () => {
    expect(nextDue(task(), new Date('2026-02-01T05:00:00Z'))).toEqual({
      dueAt: new Date('2026-02-02T05:00:00Z'),
      key: '7@2026-02-02T05:00:00.000Z',
      disableAfterFire: false,
      gapShifted: false,
    });
  });

  it('returns null for a disabled task', () => {
    expect(nextDue(task({ enabled: false }), new Date('2026-02-01T00:00:00Z'))).toBeNull();
  });

  it('puts no slot before the start time, and counts one exactly at it', () => {
    const startTime = new Date('2026-02-10T05:00:00Z');
    expect(iso(nextDue(task({ startTime }), new Date('2026-02-01T00:00:00Z')))).toBe(
      '2026-02-10T05:00:00.000Z',
    );
  });

  it('aligns interval slots on the start time when there is one, else on the creation time', () => {
    const createdAt = new Date('2026-01-01T13:17:00Z');
    expect(iso(nextDue(task({ schedule: hourly, createdAt }), createdAt))).toBe('2026-01-01T14:17:00.000Z');
    const startTime = new Date('2026-01-02T00:00:00Z');
    expect(iso(nextDue(task({ schedule: hourly, createdAt, startTime }), createdAt))).toBe(
      '2026-01-02T01:00:00.000Z',
    );
  });

  it('puts no slot at or after expires', () => {
    const expires = new Date('2026-02-03T05:00:00Z');
    expect(iso(nextDue(task({ expires }), new Date('2026-02-01T06:00:00Z')))).toBe(
      '2026-02-02T05:00:00.000Z',
    );
    expect(nextDue(task({ expires }), new Date('2026-02-02T05:00:00Z'))).toBeNull();
  });

  it('fires a one-off task once, at its first slot, and asks to disable it', () => {
    const oneOff = task({ oneOff: true, schedule: hourly, createdAt: new Date('2026-01-01T10:00:00Z') });
    expect(nextDue(oneOff, new Date('2026-01-01T10:00:00Z'))).toMatchObject({
      dueAt: new Date('2026-01-01T11:00:00Z'),
      disableAfterFire: true,
    });
    expect(nextDue(oneOff, new Date('2026-01-01T11:00:00Z'))).toBeNull();
    expect(nextDue({ ...oneOff, totalRunCount: 1 }, new Date('2026-01-01T10:00:00Z'))).toBeNull();
  });

  it('fires a clocked task once at its time, even one set before the task was created', () => {
    const clocked = task({
      schedule: { kind: 'clocked', clockedTime: new Date('2026-01-15T13:00:00Z') },
      createdAt: new Date('2026-01-20T00:00:00Z'),
    });
    expect(nextDue(clocked, new Date('2026-01-10T00:00:00Z'))).toMatchObject({
      dueAt: new Date('2026-01-15T13:00:00Z'),
      disableAfterFire: true,
    });
    expect(nextDue(clocked, new Date('2026-01-15T13:00:00Z'))).toBeNull();
    expect(nextDue({ ...clocked, totalRunCount: 1 }, new Date('2026-01-10T00:00:00Z'))).toBeNull();
  });
});

describe('periodic task: validation', () => {
  const valid = { name: 'Ingesta horaria de preinscriptos', task: 'alumnos.tasks.ingestar_preinscriptos' };

  it('accepts the manual’s first example and fills the defaults', () => {
    const result = validatePeriodicTask({ ...valid, interval: { every: 1, period: 'hours' } });
    expect(result).toEqual({
      ok: true,
      value: {
        ...valid,
        schedule: { kind: 'interval', every: 1, period: 'hours' },
        enabled: true,
        oneOff: false,
        startTime: null,
        expires: null,
        missedRunPolicy: { mode: 'run_once', cap: 10 },
      },
    });
  });

  it('requires exactly one schedule kind', () => {
    const message = 'Debe indicar exactamente un tipo de programación (intervalo, crontab, solar o clocked)';
    expect(validatePeriodicTask(valid)).toEqual({ ok: false, errors: [{ field: 'schedule', message }] });
    expect(
      validatePeriodicTask({ ...valid, interval: { every: 1, period: 'hours' }, crontab: { minute: '0' } }),
    ).toEqual({ ok: false, errors: [{ field: 'schedule', message }] });
  });

  it('rejects expires before (or at) start', () => {
    const result = validatePeriodicTask({
      ...valid,
      interval: { every: 1, period: 'hours' },
      startTime: new Date('2026-02-01T00:00:00Z'),
      expires: new Date('2026-01-01T00:00:00Z'),
    });
    expect(result).toEqual({
      ok: false,
      errors: [{ field: 'expires', message: 'La expiración debe ser posterior al inicio' }],
    });
  });

  it('collects every error at once, each naming its field', () => {
    const result = validatePeriodicTask(
      {
        name: ' ',
        task: 'alumnos.tasks.inexistente',
        crontab: { minute: '61', timezone: 'Mars/Olympus' },
        missedRunPolicy: { mode: 'sometimes', cap: 0 },
      },
      { registeredTasks: ['alumnos.tasks.ingestar_preinscriptos'] },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors.map((e) => e.field)).toEqual([
      'name',
      'task',
      'crontab.minute',
      'crontab.timezone',
      'missed_run_policy.mode',
      'missed_run_policy.cap',
    ]);
  });

  it('rejects a clocked time the task could never reach', () => {
    const result = validatePeriodicTask({
      ...valid,
      clocked: { clockedTime: new Date('2026-03-01T00:00:00Z') },
      expires: new Date('2026-02-01T00:00:00Z'),
    });
    expect(!result.ok && result.errors[0]?.field).toBe('clocked.clocked_time');
  });
});
