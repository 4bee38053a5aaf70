import { describe, expect, it } from 'vitest';
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
