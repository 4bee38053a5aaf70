import { describe, expect, it } from 'vitest';
import { rawCarrera, rawListItem } from './alumno.factories.js';
import { prepareListBatch } from './list-batch.js';

describe('list batch preparation', () => {
  it('keeps valid records and rejects broken ones without throwing', () => {
    const batch = prepareListBatch('preinscriptos', [
      rawListItem(),
      rawListItem({ nrodoc: 'abc' }),
      rawListItem({ nrodoc: 30222333, carreras: 'x' }),
      null,
    ]);
    expect(batch.items.map((i) => i.item.nrodoc)).toEqual(['30111222']);
    expect(batch.rejected.map((e) => e.mensaje)).toEqual([
      'Registro 2 de la lista: nrodoc inválido «abc»',
      'DNI 30222333: carreras no es una lista «x»',
      'Registro 4 de la lista: el registro no es un objeto',
    ]);
  });

  it('keeps the last occurrence of a repeated document and warns', () => {
    const last = [rawCarrera({ comisiones: [{ id_comision: 541, nombre_comision: 'COMISION 01' }] })];
    const batch = prepareListBatch('aspirantes', [
      rawListItem(),
      rawListItem({ nrodoc: '30111222', carreras: last }),
    ]);
    expect(batch.items).toHaveLength(1);
    expect(batch.items[0]!.item.carreras).toEqual(last);
    expect(batch.warnings).toEqual([
      'SIAL envió 1 registro(s) repetido(s) de aspirantes; se usó el último de cada documento.',
    ]);
  });

  it('carries field issues with the item', () => {
    const batch = prepareListBatch('ingresantes', [
      rawListItem({ carreras: [rawCarrera({ fecha_inscri: '31/02/2025' })] }),
    ]);
    expect(batch.items[0]!.issues.map((i) => i.mensaje)).toEqual([
      'DNI 30111222: fecha_inscri inválida «31/02/2025»',
    ]);
  });
});
