import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { mapWithConcurrency } from './concurrency.js';

describe('mapWithConcurrency', () => {
  it('keeps input order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapWithConcurrency(
      Array.from({ length: 40 }, (_, i) => i),
      4,
      async (n) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await delay(n % 3);
        inFlight--;
        return n * 2;
      },
    );
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i * 2));
    expect(peak).toBe(4);
  });

  it('handles an empty list', async () => {
    expect(await mapWithConcurrency([], 8, async () => 1)).toEqual([]);
  });

  it('stops starting items after the first failure and rejects with it', async () => {
    const started: number[] = [];
    const run = mapWithConcurrency([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n, _i, signal) => {
      started.push(n);
      if (n === 1) throw new Error('falló 1');
      await delay(5, undefined, { signal }).catch(() => undefined);
      return n;
    });
    await expect(run).rejects.toThrow('falló 1');
    expect(started.length).toBeLessThan(8);
  });

  it('rejects with the reason when the caller aborts', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const run = mapWithConcurrency(
      Array.from({ length: 100 }, (_, i) => i),
      2,
      async (n) => {
        started.push(n);
        if (n === 3) controller.abort(new Error('cancelado'));
        await delay(1);
        return n;
      },
      { signal: controller.signal },
    );
    await expect(run).rejects.toThrow('cancelado');
    expect(started.length).toBeLessThan(10);
  });

  it('rejects a limit below 1', async () => {
    await expect(mapWithConcurrency([1], 0, async (n) => n)).rejects.toThrow(RangeError);
  });
});
