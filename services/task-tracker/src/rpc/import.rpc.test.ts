import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pylucyRowId } from './import.rpc.js';

/** The derivation as first released (a name-based UUID, version 5 layout over SHA-1), written out independently. */
function reference(table: string, originalId: bigint | number | string): string {
  const h = createHash('sha1')
    .update(`lucy-tasks:pylucy:${table}:${String(originalId)}`)
    .digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

describe('pylucyRowId', () => {
  it('never changes: a re-run after an upgrade must find the rows an earlier version imported', () => {
    expect(pylucyRowId('tarea', 1)).toBe('e52f60b4-cb52-5c4c-aec5-cc8efbf64ad9');
    for (const table of ['tarea', 'log'] as const)
      for (const id of [1, 2, 42, 999_999, 2n ** 62n, '9007199254740993'])
        expect(pylucyRowId(table, id)).toBe(reference(table, id));
  });

  it('is a version 5, RFC 4122 variant UUID, distinct per table', () => {
    const id = pylucyRowId('log', 7);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(pylucyRowId('tarea', 7)).not.toBe(id);
  });
});
