import { describe, expect, it } from 'vitest';
import { ESTADO_FOR_TIPO, compareEstado, forwardEstado, isTipo } from './tipo.js';

describe('tipos and estados', () => {
  it('maps each tipo to its estado', () => {
    expect(ESTADO_FOR_TIPO).toEqual({
      preinscriptos: 'preinscripto',
      aspirantes: 'aspirante',
      ingresantes: 'ingresante',
    });
  });

  it('orders estados preinscripto < aspirante < ingresante < alumno', () => {
    expect(compareEstado('preinscripto', 'aspirante')).toBeLessThan(0);
    expect(compareEstado('alumno', 'ingresante')).toBeGreaterThan(0);
    expect(forwardEstado('aspirante', 'preinscripto')).toBe('aspirante');
    expect(forwardEstado('aspirante', 'ingresante')).toBe('ingresante');
  });

  it('recognises tipos case-sensitively', () => {
    expect(isTipo('aspirantes')).toBe(true);
    expect(isTipo('Aspirantes')).toBe(false);
  });
});
