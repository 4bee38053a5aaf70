import { describe, expect, it } from 'vitest';
import { fillRandom, randomHex } from './random.js';
import { isUuid, taskIdFromDelivery, uuidv7 } from './task-id.js';

describe('task ids', () => {
  it('are UUIDv7, ordered by time', () => {
    const a = uuidv7(1_700_000_000_000);
    const b = uuidv7(1_700_000_000_001);
    expect(isUuid(a)).toBe(true);
    expect(a[14]).toBe('7');
    expect(a < b).toBe(true);
  });

  it('derive the same id for the same delivery on every consumer, and different ones otherwise', () => {
    const x = taskIdFromDelivery('LUCY_CMD', 42, 1_700_000_000_000);
    expect(taskIdFromDelivery('LUCY_CMD', 42, 1_700_000_000_000)).toBe(x);
    expect(taskIdFromDelivery('LUCY_CMD', 43, 1_700_000_000_000)).not.toBe(x);
    expect(isUuid(x)).toBe(true);
    expect(x[14]).toBe('7');
  });
});

describe('random bytes from the pool', () => {
  it('never hands out the same bytes twice, across refills', () => {
    const seen = new Set<string>();
    // 3 × 4096 / 16 ids: the pool is refilled twice.
    for (let i = 0; i < 768; i++) seen.add(randomHex(16));
    expect(seen.size).toBe(768);
    const ids = new Set(Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000)));
    expect(ids.size).toBe(5000);
  });

  it('fills a slice of a buffer, and buffers larger than the pool directly', () => {
    const b = Buffer.alloc(32);
    fillRandom(b, 8, 16);
    expect(b.subarray(0, 8).every((x) => x === 0)).toBe(true);
    expect(b.subarray(24).every((x) => x === 0)).toBe(true);
    expect(b.subarray(8, 24).some((x) => x !== 0)).toBe(true);
    const big = fillRandom(Buffer.alloc(10_000));
    expect(big.subarray(9000).some((x) => x !== 0)).toBe(true);
  });
});
