import { describe, expect, it } from 'vitest';
import { SlotHeap } from './slot-heap.js';

describe('slot heap', () => {
  it('pops entries in due order', () => {
    const heap = new SlotHeap<string>();
    const times = [50, 10, 40, 10, 30, 20, 60, 0];
    times.forEach((t, i) => heap.push(t, `v${i}`));
    const out: number[] = [];
    while (heap.size) out.push(heap.pop()!.at);
    expect(out).toEqual([...times].sort((a, b) => a - b));
  });
});
