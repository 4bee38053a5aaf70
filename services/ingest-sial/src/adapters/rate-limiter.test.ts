import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { createTokenBucket } from './rate-limiter.js';

/** A manual clock: sleeps resolve only when the test advances time past them. */
function manualClock(): Clock & { runAll(): Promise<void> } {
  let t = 0;
  const timers: { at: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  return {
    now: () => t,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        const timer = { at: t + ms, resolve, reject };
        timers.push(timer);
        signal?.addEventListener('abort', () => {
          timers.splice(timers.indexOf(timer), 1);
          reject(signal.reason as Error);
        });
      }),
    async runAll() {
      await new Promise((r) => setImmediate(r));
      while (timers.length > 0) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers.shift()!;
        t = next.at;
        next.resolve();
        await new Promise((r) => setImmediate(r));
      }
    },
  };
}

describe('token bucket', () => {
  it('serves concurrent callers in order, one token per interval', async () => {
    const clock = manualClock();
    const bucket = createTokenBucket({ ratePerSecond: 4, clock });
    const grantedAt: number[] = [];
    const all = Promise.all(
      Array.from({ length: 5 }, () => bucket.acquire().then(() => grantedAt.push(clock.now()))),
    );
    await clock.runAll();
    await all;
    expect(grantedAt).toEqual([0, 250, 500, 750, 1000]);
  });

  it('lets a burst through back to back, then spaces the rest', async () => {
    const clock = manualClock();
    const bucket = createTokenBucket({ ratePerSecond: 10, burst: 3, clock });
    const grantedAt: number[] = [];
    const all = Promise.all(
      Array.from({ length: 5 }, () => bucket.acquire().then(() => grantedAt.push(clock.now()))),
    );
    await clock.runAll();
    await all;
    expect(grantedAt).toEqual([0, 0, 0, 100, 200]);
  });

  it('returns the reserved token when a waiter aborts', async () => {
    const clock = manualClock();
    const bucket = createTokenBucket({ ratePerSecond: 1, clock });
    await bucket.acquire();
    const controller = new AbortController();
    const aborted = bucket.acquire(controller.signal);
    controller.abort(new Error('basta'));
    await expect(aborted).rejects.toThrow('basta');
    const grantedAt: number[] = [];
    const next = bucket.acquire().then(() => grantedAt.push(clock.now()));
    await clock.runAll();
    await next;
    expect(grantedAt).toEqual([1000]);
  });

  it('rejects a non-positive rate', () => {
    expect(() => createTokenBucket({ ratePerSecond: 0 })).toThrow(RangeError);
  });
});
