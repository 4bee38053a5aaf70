import { describe, expect, it } from 'vitest';
import { parseSlotKey, slotKey } from './slot-key.util.js';

describe('slot key', () => {
  it('is the task id and the due instant in UTC with milliseconds', () => {
    expect(slotKey('42', new Date('2026-03-02T02:00:00-03:00'))).toBe('42@2026-03-02T05:00:00.000Z');
    expect(slotKey(42, new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 5)))).toBe('42@2026-01-01T00:00:00.005Z');
  });

  it('is the same for the same slot whoever computes it', () => {
    expect(slotKey('a', new Date('2026-01-01T00:00:00Z'))).toBe(slotKey('a', new Date(1_767_225_600_000)));
  });

  it('round-trips through parseSlotKey', () => {
    const key = slotKey('0190a1b2-c3d4', new Date('2026-03-02T05:00:00Z'));
    expect(parseSlotKey(key)).toEqual({
      periodicTaskId: '0190a1b2-c3d4',
      dueAt: new Date('2026-03-02T05:00:00Z'),
    });
    expect(parseSlotKey('nope')).toBeNull();
  });

  it('refuses ids that would make the key ambiguous and invalid dates', () => {
    expect(() => slotKey('a@b', new Date())).toThrow(RangeError);
    expect(() => slotKey('', new Date())).toThrow(RangeError);
    expect(() => slotKey('1', new Date(Number.NaN))).toThrow(RangeError);
  });
});
