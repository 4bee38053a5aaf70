import { describe, expect, it } from 'vitest';
import { assessSourceHealth } from './source-health.js';

describe('source health', () => {
  it('is quiet for a normal full list', () => {
    expect(assessSourceHealth({ tipo: 'preinscriptos', received: 1400, lastGoodCount: 1500 })).toEqual({
      suspicious: false,
      warnings: [],
    });
  });

  it('warns about an empty full list, citing the last good count', () => {
    const health = assessSourceHealth({ tipo: 'preinscriptos', received: 0, lastGoodCount: 1520 });
    expect(health.suspicious).toBe(true);
    expect(health.warnings[0]).toContain('vacía');
    expect(health.warnings[0]).toContain('1520');
  });

  it('warns about a full list far smaller than the last good one', () => {
    const health = assessSourceHealth({ tipo: 'aspirantes', received: 300, lastGoodCount: 1520 });
    expect(health.warnings).toEqual([
      'SIAL devolvió 300 registros de aspirantes, muchos menos que los 1520 de la última carga completa (menos del 50 %). Verifique el servicio de SIAL.',
    ]);
  });

  it('honours a custom threshold', () => {
    expect(
      assessSourceHealth({ tipo: 'aspirantes', received: 700, lastGoodCount: 1000, threshold: 0.8 })
        .suspicious,
    ).toBe(true);
  });

  it('does not compare counts of an incremental window', () => {
    expect(
      assessSourceHealth({ tipo: 'ingresantes', received: 0, lastGoodCount: 1000, modo: 'incremental' })
        .suspicious,
    ).toBe(false);
  });

  it('warns when most records are invalid, a hint of a format change', () => {
    const health = assessSourceHealth({
      tipo: 'ingresantes',
      received: 10,
      invalid: 10,
      modo: 'incremental',
    });
    expect(health.warnings[0]).toContain('cambiado el formato');
  });
});
