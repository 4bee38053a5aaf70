import { describe, expect, it } from 'vitest';
import {
  foldOccurrenceAt,
  formatUtcOffset,
  isValidTimeZone,
  offsetAt,
  wallAt,
  zoneSegmentAt,
  zoneTransitions,
} from './time-zone.util.js';

const HOUR = 3_600_000;

describe('time-zone utilities', () => {
  it('knows IANA zones through Intl and rejects the rest', () => {
    expect(isValidTimeZone('America/Argentina/Cordoba')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
    expect(isValidTimeZone(' UTC')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone(42)).toBe(false);
  });

  it('reads offsets on either side of a transition to the second', () => {
    const jump = Date.parse('2026-03-29T01:00:00Z');
    expect(offsetAt('Europe/Madrid', jump - 1)).toBe(HOUR);
    expect(offsetAt('Europe/Madrid', jump)).toBe(2 * HOUR);
    expect(offsetAt('America/Argentina/Cordoba', jump)).toBe(-3 * HOUR);
    expect(new Date(wallAt('Europe/Madrid', jump)).toISOString()).toBe('2026-03-29T03:00:00.000Z');
  });

  it('agrees with Intl on historical offsets, whatever was looked up before', () => {
    // Argentina last observed DST in the summers of 2007–2008 and 2008–2009 (UTC−2).
    zoneSegmentAt('America/Argentina/Cordoba', Date.parse('2026-06-01T00:00:00Z'));
    expect(offsetAt('America/Argentina/Cordoba', Date.parse('2009-01-15T12:00:00Z'))).toBe(-2 * HOUR);
    expect(
      zoneTransitions('America/Argentina/Cordoba', new Date('2008-01-01'), new Date('2010-01-01')).map((t) =>
        new Date(t.at).toISOString(),
      ),
    ).toEqual(['2008-03-16T02:00:00.000Z', '2008-10-19T03:00:00.000Z', '2009-03-15T02:00:00.000Z']);
  });

  it('tells the first and second occurrence of a repeated wall time apart', () => {
    expect(foldOccurrenceAt('Europe/Madrid', Date.parse('2026-10-25T00:30:00Z'))).toBe('first');
    expect(foldOccurrenceAt('Europe/Madrid', Date.parse('2026-10-25T01:30:00Z'))).toBe('second');
    expect(foldOccurrenceAt('Europe/Madrid', Date.parse('2026-10-25T02:30:00Z'))).toBeNull();
  });

  it('formats offsets the ISO way', () => {
    expect(formatUtcOffset(-3 * HOUR)).toBe('-03:00');
    expect(formatUtcOffset(5.75 * HOUR)).toBe('+05:45');
    expect(formatUtcOffset(0)).toBe('+00:00');
  });
});
