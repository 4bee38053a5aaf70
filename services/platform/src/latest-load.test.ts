import { describe, expect, it } from 'vitest';
import { latestLoad } from './latest-load.js';

/** A read whose answer the test gives when it wants. */
function controlledReads() {
  const pending: ((row: string) => void)[] = [];
  const read = () => new Promise<string>((resolve) => pending.push(resolve));
  return { read, answer: (i: number, row: string) => pending[i]!(row) };
}

describe('latestLoad', () => {
  it('applies only the last load started, whatever order the reads answer in', async () => {
    const { read, answer } = controlledReads();
    const applied: string[] = [];
    const load = latestLoad(read, (r) => applied.push(r));
    const a = load();
    const b = load();
    answer(1, 'nuevo');
    await b;
    answer(0, 'viejo');
    await a;
    expect(applied).toEqual(['nuevo']);
  });

  it('an overtaken load that answers first applies its row, and the later one then applies over it', async () => {
    const { read, answer } = controlledReads();
    const applied: string[] = [];
    const load = latestLoad(read, (r) => applied.push(r));
    const a = load();
    const b = load();
    answer(0, 'escrito');
    await a;
    // Resolved with a state that includes what was written before it started.
    expect(applied).toEqual(['escrito']);
    answer(1, 'escrito y recargado');
    await b;
    expect(applied).toEqual(['escrito', 'escrito y recargado']);
  });

  it('a later load that fails does not fail the earlier one, which then applies its row', async () => {
    let n = 0;
    let failLater!: (err: Error) => void;
    const applied: string[] = [];
    const load = latestLoad(
      () =>
        ++n === 1
          ? new Promise<string>((r) => setTimeout(() => r('primero'), 20))
          : new Promise<string>((_r, reject) => (failLater = reject)),
      (r) => applied.push(r),
    );
    const a = load();
    const b = load();
    failLater(new Error('base caída'));
    await expect(b).rejects.toThrow('base caída');
    await expect(a).resolves.toBeUndefined();
    expect(applied).toEqual(['primero']);
  });
});
