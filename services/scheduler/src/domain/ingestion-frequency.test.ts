import { describe, expect, it } from 'vitest';
import { crontabFromExpression } from './crontab.schedule.js';
import { ingestionFrequencyWarning, shortestGapMs } from './ingestion-frequency.js';
import type { Schedule } from './schedule.model.js';

const now = new Date('2026-03-02T12:00:00Z');
const cron = (expr: string): Schedule => ({ kind: 'crontab', ...crontabFromExpression(expr) });

describe('ingestion frequency (spec: no more than once every 30 minutes)', () => {
  it('warns about an interval or a crontab that runs more often than every 30 minutes', () => {
    expect(ingestionFrequencyWarning('Ingesta', { kind: 'interval', every: 5, period: 'minutes' }, now)).toBe(
      '«Ingesta» ejecuta una ingesta cada 5 minutos, más de una vez cada 30 minutos: la buena práctica es no ' +
        'más de 1 vez cada 30 minutos para evitar sobrecarga de SIAL',
    );
    expect(ingestionFrequencyWarning('I', cron('*/5 * * * *'), now)).toMatch(/cada 5 minutos/);
    expect(ingestionFrequencyWarning('I', { kind: 'interval', every: 10, period: 'seconds' }, now)).toMatch(
      /cada 10 segundos/,
    );
    // Two runs 10 minutes apart once a day are also too close.
    expect(ingestionFrequencyWarning('I', cron('0,10 2 * * *'), now)).toMatch(/cada 10 minutos/);
  });

  it('accepts every 30 minutes or less often, and one-shot schedules', () => {
    expect(ingestionFrequencyWarning('I', cron('*/30 * * * 1-5'), now)).toBeNull();
    expect(ingestionFrequencyWarning('I', cron('0 2 * * *'), now)).toBeNull();
    expect(ingestionFrequencyWarning('I', { kind: 'interval', every: 1, period: 'hours' }, now)).toBeNull();
    expect(
      ingestionFrequencyWarning('I', { kind: 'clocked', clockedTime: new Date('2026-04-01T00:00:00Z') }, now),
    ).toBeNull();
    expect(shortestGapMs({ kind: 'interval', every: 30, period: 'minutes' }, now)).toBe(30 * 60_000);
  });
});
