import { createVirtualClock } from '@lucy/testkit';
import { describe, expect, it } from 'vitest';
import { createSendRateLimiter } from './send-rate.js';

describe('send rate limit', () => {
  it('spaces messages evenly at the configured rate', async () => {
    const clock = createVirtualClock(1_000);
    const limiter = createSendRateLimiter(30, clock);
    for (let i = 0; i < 3; i++) await limiter.acquire();
    // 30 a minute: the first at once, then one every 2 s.
    expect(clock.slept).toEqual([2_000, 2_000]);
    expect(clock.now()).toBe(5_000);
  });

  it('gives concurrent callers consecutive slots', async () => {
    const waits: number[] = [];
    const limiter = createSendRateLimiter(600, { now: () => 0, sleep: async (ms) => void waits.push(ms) });
    await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    expect(waits).toEqual([100, 200]);
  });

  it('does not wait after an idle period and never waits when unlimited', async () => {
    const clock = createVirtualClock(0);
    const limiter = createSendRateLimiter(60, clock);
    await limiter.acquire();
    clock.advance(5_000);
    await limiter.acquire();
    expect(clock.slept).toEqual([]);
    const unlimited = createSendRateLimiter(0, clock);
    for (let i = 0; i < 100; i++) await unlimited.acquire();
    expect(clock.slept).toEqual([]);
  });
});
