import { describe, expect, it } from 'vitest';
import { evaluateWindow, validateWindow, type WindowConfig } from './window.js';

/** An instant given in Córdoba local time (UTC−3). */
const cba = (local: string): Date => new Date(`${local}-03:00`);

/** The seed's example: preinscriptos between 2026-01-01 00:00:00 and 2026-01-15 23:59:59. */
const seedWindow: WindowConfig = {
  tipo: 'preinscriptos',
  inicio: cba('2026-01-01T00:00:00'),
  fin: cba('2026-01-15T23:59:59'),
};

describe('ingest window', () => {
  it('skips when no start date is configured', () => {
    expect(
      evaluateWindow({ tipo: 'preinscriptos', inicio: null, fin: null }, cba('2026-01-05T10:00')),
    ).toEqual({
      run: false,
      code: 'sin_inicio',
      reason:
        'No hay fecha de inicio configurada para preinscriptos (preinscriptos_dia_inicio): la ingesta no se ejecuta.',
    });
  });

  it('runs every hour of the seed example only between 1 and 15 January 2026', () => {
    const hourly = (from: string, hours: number): Date[] =>
      Array.from({ length: hours }, (_, h) => new Date(cba(from).getTime() + h * 3_600_000));
    const runs = hourly('2025-12-31T20:00', 24 * 17).filter((now) => evaluateWindow(seedWindow, now).run);
    expect(runs).toHaveLength(15 * 24);
    expect(runs[0]).toEqual(cba('2026-01-01T00:00'));
    expect(runs.at(-1)).toEqual(cba('2026-01-15T23:00'));
  });

  it('treats both ends as inclusive', () => {
    expect(evaluateWindow(seedWindow, cba('2026-01-01T00:00:00')).run).toBe(true);
    expect(evaluateWindow(seedWindow, cba('2026-01-15T23:59:59')).run).toBe(true);
    expect(evaluateWindow(seedWindow, cba('2026-01-16T00:00:00')).run).toBe(false);
  });

  it('explains a skip after the window in Córdoba time', () => {
    expect(evaluateWindow(seedWindow, new Date('2026-02-01T13:00:00Z'))).toEqual({
      run: false,
      code: 'despues_de_fin',
      reason:
        'Fuera de la ventana configurada: la ventana de ingesta de preinscriptos ya terminó (ahora 2026-02-01 10:00, ventana 2026-01-01 00:00 – 2026-01-15 23:59).',
    });
  });

  it('explains a skip before the window', () => {
    const decision = evaluateWindow({ ...seedWindow, tipo: 'aspirantes' }, cba('2025-12-20T08:30'));
    expect(decision).toEqual({
      run: false,
      code: 'antes_de_inicio',
      reason:
        'Fuera de la ventana configurada: la ingesta de aspirantes todavía no comenzó (ahora 2025-12-20 08:30, ventana 2026-01-01 00:00 – 2026-01-15 23:59).',
    });
  });

  it('has no end when fin is empty', () => {
    const open = { tipo: 'ingresantes' as const, inicio: cba('2026-01-01T00:00'), fin: null };
    expect(evaluateWindow(open, cba('2030-06-01T00:00')).run).toBe(true);
    const early = evaluateWindow(open, cba('2025-06-01T00:00'));
    expect(early.run === false && early.reason).toContain('ventana desde 2026-01-01 00:00, sin fecha de fin');
  });

  it('does not run with an end before its start, naming the field', () => {
    const decision = evaluateWindow(
      { tipo: 'preinscriptos', inicio: cba('2026-01-15T00:00'), fin: cba('2026-01-01T00:00') },
      cba('2026-01-10T00:00'),
    );
    expect(decision.run).toBe(false);
    expect(decision.run === false && decision.code).toBe('ventana_invalida');
    expect(decision.run === false && decision.reason).toContain('preinscriptos_dia_fin');
  });
});

describe('ingest window validation', () => {
  it('accepts a window whose end is after its start, or without end', () => {
    expect(validateWindow(seedWindow)).toEqual([]);
    expect(validateWindow({ ...seedWindow, fin: null })).toEqual([]);
  });

  it('requires fin to be after inicio', () => {
    expect(validateWindow({ ...seedWindow, fin: seedWindow.inicio })).toEqual([
      {
        field: 'preinscriptos_dia_fin',
        message: 'La fecha de fin debe ser posterior a la fecha de inicio (preinscriptos_dia_inicio).',
      },
    ]);
  });

  it('rejects invalid dates', () => {
    expect(validateWindow({ tipo: 'aspirantes', inicio: new Date('nope'), fin: null })).toEqual([
      { field: 'aspirantes_dia_inicio', message: 'La fecha de inicio no es una fecha válida.' },
    ]);
  });
});
