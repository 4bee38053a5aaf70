import { describe, expect, it } from 'vitest';
import { condense } from './output.js';

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
