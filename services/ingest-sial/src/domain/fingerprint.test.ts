import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './json.js';
import { rawCarrera, rawListItem } from './alumno.factories.js';
import { listFingerprint, shouldFetchPersonalData } from './fingerprint.js';
import { parseListItem, type SialListItem } from './sial-record.js';

function item(overrides: Record<string, unknown> = {}): SialListItem {
  const parsed = parseListItem(rawListItem(overrides), 0);
  if (!parsed.ok) throw new Error(parsed.error.mensaje);
  return parsed.value;
}

describe('list fingerprint', () => {
  it('keeps the v1 definition, so stored fingerprints stay valid (sha-256 of the canonical JSON)', () => {
    const x = item({ nrodoc: 30111222, carreras: [rawCarrera({ comisiones: [{ b: 1, a: [2, null] }] })] });
    const canonical = canonicalJson({
      tipo: 'aspirantes',
      tipodoc: x.tipodoc,
      nrodoc: x.nrodoc,
      carreras: x.carreras,
    });
    const v1 = `v1:${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
    expect(listFingerprint('aspirantes', x)).toBe(v1);
    expect(canonicalJson({ z: [1, { b: 'ü', a: undefined, c: null }], a: 'x' })).toBe(
      '{"a":"x","z":[1,{"b":"ü","c":null}]}',
    );
  });

  it('is stable across key order and nrodoc as number or string', () => {
    const reordered = Object.fromEntries(Object.entries(rawCarrera()).reverse());
    const a = listFingerprint('aspirantes', item({ carreras: [rawCarrera()] }));
    const b = listFingerprint('aspirantes', item({ nrodoc: '30111222', carreras: [reordered] }));
    expect(a).toBe(b);
    expect(a).toMatch(/^v1:[0-9a-f]{32}$/);
  });

  it('changes when the list entry changes', () => {
    const before = listFingerprint('aspirantes', item());
    const after = listFingerprint(
      'aspirantes',
      item({
        carreras: [rawCarrera({ comisiones: [{ id_comision: 541, nombre_comision: 'COMISION 01' }] })],
      }),
    );
    expect(after).not.toBe(before);
  });

  it('differs between tipos for the same entry', () => {
    expect(listFingerprint('preinscriptos', item())).not.toBe(listFingerprint('aspirantes', item()));
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
