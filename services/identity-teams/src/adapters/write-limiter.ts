/**
 * A sliding-window limiter for Graph writes. Microsoft Graph's identity quota is 3,000 writes per app and tenant
 * per 150 s (a token bucket on its side); counting every write this client sends in the last 150 s and waiting
 * for the oldest to leave the window keeps a process under it without ever seeing the 429. The quota is shared by
 * every replica and every app process of the tenant, so with several of them give each a share of the limit.
 */
import { realClock, type AdapterClock } from './clock.js';

/** Options of {@link createWriteLimiter}. */
export interface WriteLimiterOptions {
  /** Writes allowed per window; default 3,000 (Graph's identity write quota per app and tenant). */
  limit?: number;
  /** Window length in ms; default 150,000. */
  windowMs?: number;
  /** Default the wall clock. */
  clock?: AdapterClock;
}

/** Hands out permits for writes. */
export interface WriteLimiter {
  /** Resolves once one more write fits in the window, and counts it. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Writes counted in the current window. */
  inWindow(): number;
}

/** Creates a write limiter; a limit of 0 or less is refused. */
export function createWriteLimiter(options: WriteLimiterOptions = {}): WriteLimiter {
  const limit = options.limit ?? 3000;
  const windowMs = options.windowMs ?? 150_000;
  const clock = options.clock ?? realClock;
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError('the write limit must be a positive integer');
  if (!(windowMs > 0)) throw new RangeError('the write window must be positive');
  // Times of the writes in the window, oldest first; `head` skips the expired ones without shifting the array.
  let sent: number[] = [];
  let head = 0;
  const expire = (now: number): void => {
    while (head < sent.length && (sent[head] ?? 0) <= now - windowMs) head++;
    if (head > 1024 && head * 2 > sent.length) {
      sent = sent.slice(head);
      head = 0;
    }
  };
  return {
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const now = clock.now();
        expire(now);
        if (sent.length - head < limit) {
          sent.push(now);
          return;
        }
        await clock.sleep((sent[head] ?? now) + windowMs - now + 1, signal);
      }
    },
    inWindow() {
      expire(clock.now());
      return sent.length - head;
    },
  };
}
