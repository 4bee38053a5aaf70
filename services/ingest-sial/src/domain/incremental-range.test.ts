import { describe, expect, it } from 'vitest';
import { incrementalRange, nextCheckpoint } from './incremental-range.js';

const now = new Date('2026-01-10T15:00:00Z');

describe('incremental range', () => {
  it('asks for the full list when there is no checkpoint', () => {
    expect(incrementalRange({ now })).toMatchObject({ modo: 'completo', hasta: now });
    expect(incrementalRange({ now }).desde).toBeUndefined();
  });

  it('asks from the checkpoint minus the 5-minute overlap', () => {
    const range = incrementalRange({ now, checkpoint: new Date('2026-01-10T14:00:00Z') });
    expect(range).toMatchObject({
      modo: 'incremental',
      desde: new Date('2026-01-10T13:55:00Z'),
      hasta: now,
    });
  });

  it('uses a custom overlap', () => {
    const range = incrementalRange({ now, checkpoint: new Date('2026-01-10T14:00:00Z'), overlapMs: 0 });
    expect(range.desde).toEqual(new Date('2026-01-10T14:00:00Z'));
  });

  it('asks for the full list when the checkpoint predates the current window', () => {
    const range = incrementalRange({
      now,
      checkpoint: new Date('2025-03-01T00:00:00Z'),
      inicio: new Date('2026-01-01T03:00:00Z'),
    });
    expect(range.modo).toBe('completo');
  });

  it('asks for the full list when forced', () => {
    expect(
      incrementalRange({ now, checkpoint: new Date('2026-01-10T14:00:00Z'), forceFull: true }).modo,
    ).toBe('completo');
  });

  it('never produces desde after hasta when the checkpoint is in the future', () => {
    const range = incrementalRange({ now, checkpoint: new Date('2026-01-11T00:00:00Z') });
    expect(range.desde!.getTime()).toBeLessThan(range.hasta.getTime());
  });
});

describe('next checkpoint', () => {
  const previous = new Date('2026-01-10T14:00:00Z');
  const range = incrementalRange({ now, checkpoint: previous });

  it('advances to hasta when SIAL answered records and every one got its personal data', () => {
    expect(nextCheckpoint({ previous, range, erroresSial: 0, recibidos: 3 })).toEqual(now);
  });

  it('stays put when some personal data failed, so the next run retries them', () => {
    expect(nextCheckpoint({ previous, range, erroresSial: 2, recibidos: 3 })).toEqual(previous);
    expect(nextCheckpoint({ previous: undefined, range, erroresSial: 2, recibidos: 3 })).toBeUndefined();
  });

  it('stays put on an empty answer, which may be a fault answering [] with a 200', () => {
    expect(nextCheckpoint({ previous, range, erroresSial: 0, recibidos: 0 })).toEqual(previous);
    const full = incrementalRange({ now, checkpoint: null });
    expect(nextCheckpoint({ previous: null, range: full, erroresSial: 0, recibidos: 0 })).toBeUndefined();
  });
});
