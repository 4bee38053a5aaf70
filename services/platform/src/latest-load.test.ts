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

  it('an overtaken load resolves only after the later one applied (a caller after its write sees it)', async () => {
    const { read, answer } = controlledReads();
    const applied: string[] = [];
    const load = latestLoad(read, (r) => applied.push(r));
    const order: string[] = [];
    const a = load().then(() => order.push(`a resolved, state ${applied.at(-1) ?? 'none'}`));
    const b = load().then(() => order.push(`b resolved, state ${applied.at(-1) ?? 'none'}`));
    answer(0, 'escrito');
    await new Promise((r) => setTimeout(r, 10));
    // The first read answered, but a later load is running: it neither applies nor resolves yet.
    expect(order).toEqual([]);
    expect(applied).toEqual([]);
    answer(1, 'escrito y recargado');
    await Promise.all([a, b]);
    expect(applied).toEqual(['escrito y recargado']);
    expect(order).toEqual(['b resolved, state escrito y recargado', 'a resolved, state escrito y recargado']);
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
