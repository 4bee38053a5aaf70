import { describe, expect, it } from 'vitest';
import { fieldLabel, fromLocalInput, inputOf, toLocalInput } from './beat.js';

describe('the Córdoba datetime-local inputs', () => {
  it('reads a typed Córdoba time as UTC−03:00', () => {
    expect(fromLocalInput('2026-01-15T23:59:59')?.toISOString()).toBe('2026-01-16T02:59:59.000Z');
    expect(fromLocalInput('2026-01-01T00:00')?.toISOString()).toBe('2026-01-01T03:00:00.000Z');
  });

  it('tells an empty input from one that is not a date', () => {
    expect(fromLocalInput('')).toBeUndefined();
    expect(fromLocalInput('15/01/2026')).toBeNull();
  });

  it('writes an instant back as the Córdoba wall time', () => {
    expect(toLocalInput('2026-01-16T02:59:59.000Z')).toBe('2026-01-15T23:59:59');
    expect(toLocalInput(null)).toBe('');
  });
});

describe('the Spanish names of refused fields', () => {
  it('names the input a scheduler field belongs to', () => {
    expect(inputOf('crontab.minute')).toBe('minute');
    expect(inputOf('kwargs.desde')).toBe('kwargs');
    expect(inputOf('missed_run_policy.cap')).toBe('missed_run_cap');
    expect(fieldLabel('start_time')).toBe('Fecha/hora de inicio');
    expect(fieldLabel('kwargs.desde')).toBe('Argumentos con nombre (kwargs): desde');
    expect(fieldLabel('crontab.day_of_week')).toBe('Día de la semana');
  });
});
