import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { listFingerprint, shouldFetchPersonalData } from './fingerprint.js';

const encoder = new TextEncoder();

describe('list fingerprint', () => {
  it("is v2: sha-256 of the record's JSON text as received, 128 bits in hex", () => {
    const text =
      '{"tipodoc":"DNI","nrodoc":30111222,"carreras":[{"nombre_carrera":"LICENCIATURA EN ADMINISTRACIÓN"}]}';
    const v2 = `v2:${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32)}`;
    expect(listFingerprint(encoder.encode(text))).toBe(v2);
    expect(listFingerprint(text)).toBe(v2);
    expect(v2).toMatch(/^v2:[0-9a-f]{32}$/);
  });

  it('hashes only the bytes of the record, wherever they sit in a larger buffer', () => {
    const record = '{"nrodoc":1,"carreras":[]}';
    const list = encoder.encode(`[${record},{"nrodoc":2,"carreras":[]}]`);
    expect(listFingerprint(list.subarray(1, 1 + record.length))).toBe(listFingerprint(record));
  });

  it('changes when anything ingestion stores from the entry changes', () => {
    const base = {
      tipodoc: 'DNI',
      nrodoc: 30111222,
      carreras: [{ id_carrera: 3, comisiones: [] as unknown[] }],
    };
    const before = listFingerprint(JSON.stringify(base));
    const variants = [
      { ...base, tipodoc: 'PAS' },
      { ...base, nrodoc: 30111223 },
      { ...base, carreras: [{ id_carrera: 3, comisiones: [{ id_comision: 541 }] }] },
      { ...base, carreras: [] },
    ];
    for (const v of variants) expect(listFingerprint(JSON.stringify(v))).not.toBe(before);
    expect(listFingerprint(JSON.stringify(base))).toBe(before);
  });

  it('never equals a v1 fingerprint, so every stored v1 one reads as changed', () => {
    expect(listFingerprint('{}').startsWith('v1:')).toBe(false);
  });
});

describe('personal-data fetch rule', () => {
  const existing = { nombre: 'ANA', apellido: 'PÉREZ' };

  it('fetches for a new alumno', () => {
    expect(shouldFetchPersonalData({ fingerprint: 'v1:a' })).toEqual({ fetch: true, reason: 'nuevo' });
  });

  it('skips an alumno whose list entry did not change', () => {
    expect(shouldFetchPersonalData({ existing, storedFingerprint: 'v1:a', fingerprint: 'v1:a' })).toEqual({
      fetch: false,
      reason: 'sin_cambios',
    });
  });

  it('fetches when the fingerprint changed or was never stored', () => {
    expect(shouldFetchPersonalData({ existing, storedFingerprint: 'v1:a', fingerprint: 'v1:b' }).reason).toBe(
      'cambio',
    );
    expect(shouldFetchPersonalData({ existing, storedFingerprint: null, fingerprint: 'v1:b' }).reason).toBe(
      'sin_huella',
    );
  });

  it('fetches again when stored names are missing, so a failed fetch heals', () => {
    expect(
      shouldFetchPersonalData({
        existing: { nombre: null, apellido: 'PÉREZ' },
        storedFingerprint: 'v1:a',
        fingerprint: 'v1:a',
      }),
    ).toEqual({ fetch: true, reason: 'datos_incompletos' });
  });

  it('fetches everything on a forced full load', () => {
    expect(
      shouldFetchPersonalData({ existing, storedFingerprint: 'v1:a', fingerprint: 'v1:a', force: true })
        .fetch,
    ).toBe(true);
  });
});
