/**
 * A token bucket that hands out request permits. Waiters reserve a token up front (the balance may go negative),
 * so concurrent callers are served in arrival order without polling.
 */
import { systemClock, type Clock } from './clock.js';

/** Options of {@link createTokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second; must be > 0. */
  ratePerSecond: number;
  /** Bucket size: requests that may go out back to back; default 1 (evenly spaced requests). */
  burst?: number;
  /** Default the system clock. */
  clock?: Clock;
}

/** A rate limiter. */
export interface RateLimiter {
  /** Resolves when a request may be sent; rejects with the signal's reason when aborted (the token is returned). */
  acquire(signal?: AbortSignal): Promise<void>;
}

/** A limiter that never waits. */
export const unlimited: RateLimiter = { acquire: async (signal) => signal?.throwIfAborted() };

/** Creates a token bucket, initially full. */
export function createTokenBucket(options: TokenBucketOptions): RateLimiter {
  const { ratePerSecond } = options;
  const burst = options.burst ?? 1;
  const clock = options.clock ?? systemClock;
  if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) {
    throw new RangeError('requestsPerSecond must be a positive number');
  }
  if (!(burst >= 1)) throw new RangeError('burst must be at least 1');
  let tokens = burst;
  let last = clock.now();
  return {
    async acquire(signal) {
      signal?.throwIfAborted();
      const now = clock.now();
      tokens = Math.min(burst, tokens + ((now - last) * ratePerSecond) / 1000);
      last = now;
      tokens -= 1;
      if (tokens >= 0) return;
      const waitMs = (-tokens * 1000) / ratePerSecond;
      try {
        await clock.sleep(waitMs, signal);
      } catch (err) {
        tokens += 1;
        throw err;
      }
    },
  };
}
