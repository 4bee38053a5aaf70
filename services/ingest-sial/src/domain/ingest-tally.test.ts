import { describe, expect, it } from 'vitest';
import { cantidadEntidades, combineDetalles, createIngestTally, summarizeIngest } from './ingest-tally.js';
import { recordError } from './record-error.js';

describe('ingest tally', () => {
  it('counts outcomes, errors by category and warnings', () => {
    const tally = createIngestTally();
    tally.received(5);
    tally.outcome('create');
    tally.outcome('update');
    tally.outcome('unchanged');
    tally.outcome('unchanged');
    tally.discarded();
    tally.personalDataFetched();
    tally.error(recordError('datos_invalidos', 'Registro 5 de la lista', 'falta nrodoc', 'nrodoc'));
    tally.error(recordError('sial', 'DNI 1', 'no se pudieron obtener los datos personales'));
    tally.warn('SIAL devolvió la lista de preinscriptos vacía.');
    tally.warn('SIAL devolvió la lista de preinscriptos vacía.');
    const detalles = tally.toDetalles();
    expect(detalles).toMatchObject({
      recibidos: 5,
      created: 1,
      updated: 1,
      sin_cambios: 2,
      descartados: 1,
      datos_personales_consultados: 1,
      errores_categorizados: { sial: 1, datos_invalidos: 1, guardado: 0, otros: 0 },
      errors: 2,
      errores_omitidos: 0,
      advertencias: ['SIAL devolvió la lista de preinscriptos vacía.'],
    });
    expect(detalles.errores_detalle[0]).toEqual({
      categoria: 'datos_invalidos',
      registro: 'Registro 5 de la lista',
      campo: 'nrodoc',
      mensaje: 'Registro 5 de la lista: falta nrodoc',
    });
    expect(cantidadEntidades(detalles)).toBe(2);
    expect(summarizeIngest('preinscriptos', detalles)).toBe(
      'Ingesta de preinscriptos: 1 creados, 1 actualizados, 2 sin cambios, 2 errores',
    );
  });

  it('keeps the first 100 messages and counts the rest', () => {
    const tally = createIngestTally();
    for (let i = 0; i < 130; i++) tally.error(recordError('guardado', `DNI ${i}`, 'error al guardar'));
    const detalles = tally.toDetalles();
    expect(detalles.errores_categorizados.guardado).toBe(130);
    expect(detalles.errores_detalle).toHaveLength(100);
    expect(detalles.errores_omitidos).toBe(30);
  });

  it('hands out snapshots that later counting does not change', () => {
    const tally = createIngestTally();
    const before = tally.toDetalles();
    tally.error(recordError('otros', 'DNI 1', 'x'));
    expect(before.errores_categorizados.otros).toBe(0);
    expect(before.errores_detalle).toEqual([]);
  });
});

describe("a reconciliation's two passes as one detalles", () => {
  it('adds what was done and keeps what describes the full list', () => {
    const first = createIngestTally();
    first.received(2);
    first.outcome('update');
    first.outcome('unchanged');
    first.error(recordError('sial', 'DNI 1', 'sin datos personales'));
    first.warn('a');
    const full = createIngestTally();
    full.received(10);
    full.outcome('create');
    full.outcome('update');
    for (let i = 0; i < 8; i++) full.outcome('unchanged');
    full.warn('a');
    full.warn('b');
    const d = combineDetalles(first.toDetalles(), full.toDetalles());
    expect(d).toMatchObject({ recibidos: 10, sin_cambios: 8, created: 1, updated: 2, errors: 1 });
    expect(d.errores_categorizados.sial).toBe(1);
    expect(d.advertencias).toEqual(['a', 'b']);
    expect(summarizeIngest('aspirantes', d, 'Reconciliación de aspirantes')).toBe(
      'Reconciliación de aspirantes: 1 creados, 2 actualizados, 8 sin cambios, 1 error',
    );
  });
});
