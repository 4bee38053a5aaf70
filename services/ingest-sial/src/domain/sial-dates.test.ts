import { describe, expect, it } from 'vitest';
import { parseFechaInscri, parseFechaNatal, pivotTwoDigitYear } from './sial-dates.js';

describe('two-digit year pivot', () => {
  it('maps 69–99 to the 1900s and 00–68 to the 2000s, like Python %y', () => {
    expect(pivotTwoDigitYear(69)).toBe(1969);
    expect(pivotTwoDigitYear(99)).toBe(1999);
    expect(pivotTwoDigitYear(0)).toBe(2000);
    expect(pivotTwoDigitYear(68)).toBe(2068);
  });
});

describe('fecha_natal', () => {
  it('parses dd/mm/yy with the pivot', () => {
    expect(parseFechaNatal('19/01/80')).toBe('1980-01-19');
    expect(parseFechaNatal('05/07/04')).toBe('2004-07-05');
    expect(parseFechaNatal('01/01/69')).toBe('1969-01-01');
    expect(parseFechaNatal('31/12/68')).toBe('2068-12-31');
  });

  it('accepts a four-digit year too', () => {
    expect(parseFechaNatal('19/01/1980')).toBe('1980-01-19');
  });

  it('knows leap years after the pivot', () => {
    expect(parseFechaNatal('29/02/00')).toBe('2000-02-29');
    expect(parseFechaNatal('29/02/01')).toBeUndefined();
  });

  it('rejects what is not a date', () => {
    for (const text of ['', '1980-01-19', '32/01/80', '00/01/80', '10/13/80', 'ayer']) {
      expect(parseFechaNatal(text), text).toBeUndefined();
    }
  });
});

describe('fecha_inscri', () => {
  it('parses dd/mm/YYYY HH:MM:SS and keeps the day', () => {
    expect(parseFechaInscri('06/12/2024 11:42:32')).toEqual({ date: '2024-12-06', year: 2024 });
  });

  it('accepts dd/mm/YYYY and dd/mm/YYYY HH:MM', () => {
    expect(parseFechaInscri('06/12/2024')).toEqual({ date: '2024-12-06', year: 2024 });
    expect(parseFechaInscri('06/12/2024 11:42')).toEqual({ date: '2024-12-06', year: 2024 });
  });

  it('rejects impossible dates and times', () => {
    for (const text of [
      '31/02/2025',
      '31/02/2025 10:00:00',
      '06/12/2024 25:00:00',
      '06/12/24',
      '2024-12-06',
    ]) {
      expect(parseFechaInscri(text), text).toBeUndefined();
    }
  });
});
