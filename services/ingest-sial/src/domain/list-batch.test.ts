import { describe, expect, it } from 'vitest';
import { rawCarrera, rawListItem } from './alumno.factories.js';
import { listFingerprint } from './fingerprint.js';
import { createListScanner, prepareListBatch, restoreListItem, scannedFingerprint } from './list-batch.js';
import { parseListItem } from './sial-record.js';

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

describe('list scanner', () => {
  const encoder = new TextEncoder();
  /** Adds each record with its JSON text, as the client hands them over. */
  function scanTexts(texts: readonly string[]) {
    const scanner = createListScanner('aspirantes');
    for (const text of texts) scanner.add(JSON.parse(text) as unknown, encoder.encode(text));
    return scanner.finish();
  }

  it('validates records as they are added, keeping the last occurrence of each document by position', () => {
    const texts = [
      rawListItem(),
      rawListItem({ nrodoc: 'abc' }),
      rawListItem({ nrodoc: 30222333 }),
      rawListItem({ nrodoc: '30111222', carreras: [] }),
    ].map((r) => JSON.stringify(r));
    const scan = scanTexts(texts);
    expect(scan.items.map((x) => x?.nrodoc)).toEqual([undefined, undefined, '30222333', '30111222']);
    expect(scan.items[3]).toMatchObject({ tipodoc: 'DNI', position: 3, issues: [] });
    expect(scan.kept).toBe(2);
    expect(scan.rejected.map((e) => e.mensaje)).toEqual(['Registro 2 de la lista: nrodoc inválido «abc»']);
    expect(scan.warnings).toEqual([
      'SIAL envió 1 registro(s) repetido(s) de aspirantes; se usó el último de cada documento.',
    ]);
  });

  it('fingerprints each record from its text and restores the validated record from it', () => {
    const text = ` {"tipodoc":"dni", "nrodoc":"030111222","carreras":[{"id_carrera":3,"nombre_carrera":"CONTADOR PÚBLICO","fecha_inscri":"31/02/2025","comisiones":[]}]}`;
    const scan = scanTexts([text]);
    const item = scan.items[0]!;
    expect(item).toMatchObject({ tipodoc: 'DNI', nrodoc: '30111222' });
    expect(scannedFingerprint(item)).toBe(listFingerprint(text));
    expect(item.issues.map((i) => i.mensaje)).toEqual(['DNI 30111222: fecha_inscri inválida «31/02/2025»']);
    const restored = restoreListItem(item);
    const parsed = parseListItem(JSON.parse(text), 0);
    expect(parsed.ok && restored).toEqual(parsed.ok && parsed.value);
    expect(restored.carreras[0]!.nombre_carrera).toBe('CONTADOR PÚBLICO');
  });

  it('copies the texts, so the caller may reuse its buffer, across more than one block', () => {
    const scanner = createListScanner('preinscriptos');
    const buffer = new Uint8Array(64 * 1024);
    const n = 40; // 40 × ~40 KB: more than one 1 MB block
    const texts: string[] = [];
    for (let i = 0; i < n; i++) {
      const text = JSON.stringify({ nrodoc: 30_000_000 + i, carreras: [{ nota: 'x'.repeat(40_000) }] });
      texts.push(text);
      const { written } = encoder.encodeInto(text, buffer);
      scanner.add(JSON.parse(text), buffer.subarray(0, written));
    }
    const scan = scanner.finish();
    expect(new Set(scan.items.map((x) => x!.buffer)).size).toBeGreaterThan(1);
    scan.items.forEach((x, i) => {
      expect(restoreListItem(x!).nrodoc).toBe(String(30_000_000 + i));
      expect(scannedFingerprint(x!)).toBe(listFingerprint(texts[i]!));
    });
  });

  it('scans an empty list to nothing', () => {
    expect(createListScanner('preinscriptos').finish()).toEqual({
      items: [],
      kept: 0,
      rejected: [],
      warnings: [],
    });
  });
});
