import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { condense, isoTime, toJsonText } from './output.js';

describe('condense', () => {
  it('keeps counters and short lists whole, and shortens long lists and strings', () => {
    const plan = Array.from({ length: 200 }, (_, i) => ({ dni: String(40_000_000 + i), kind: 'create' }));
    const detalles = {
      creados: 200,
      errores: { sial: 0 },
      plan,
      advertencias: ['a', 'b'],
      nota: 'x'.repeat(500),
    };
    const shown = condense(detalles) as Record<string, unknown>;
    expect(shown.creados).toBe(200);
    expect(shown.errores).toEqual({ sial: 0 });
    expect(shown.advertencias).toEqual(['a', 'b']);
    expect(shown.plan).toEqual([plan[0], plan[1], plan[2], '… y 197 más']);
    expect(shown.nota).toBe(`${'x'.repeat(200)}…`);
  });

  it('shows a list of five whole rather than hiding two items', () => {
    expect(condense([1, 2, 3, 4, 5])).toEqual([1, 2, 3, 4, 5]);
    expect(condense([1, 2, 3, 4, 5, 6])).toEqual([1, 2, 3, '… y 3 más']);
  });
});

describe('isoTime', () => {
  it('prints an instant as ISO 8601 with Córdoba’s offset, the same instant as the UTC one', () => {
    const d = new Date('2026-12-06T03:34:28.123Z');
    expect(isoTime(d)).toBe('2026-12-06T00:34:28.123-03:00');
    expect(new Date(isoTime(d)).getTime()).toBe(d.getTime());
  });

  it('crosses the day boundary backwards in local time', () => {
    expect(isoTime(new Date('2026-01-01T02:00:00.000Z'))).toBe('2025-12-31T23:00:00.000-03:00');
  });
});

describe('toJsonText', () => {
  it('prints Dates and protobuf Timestamps with offset, 64-bit integers as numbers, no $typeName', () => {
    const ts = create(TimestampSchema, { seconds: 1_796_528_068n, nanos: 0 });
    const text = toJsonText({
      fin: new Date('2026-12-06T03:34:28.000Z'),
      at: ts,
      count: 5n,
      vacio: undefined,
    });
    expect(JSON.parse(text)).toEqual({
      fin: '2026-12-06T00:34:28.000-03:00',
      at: isoTime(new Date(1_796_528_068_000)),
      count: 5,
    });
    expect(text).not.toContain('$typeName');
  });
});
