/**
 * The send rate limit of a replica: messages are spaced evenly (60 000 / rate ms apart) rather than sent in a
 * burst and then paused, because relays such as Office 365 count a sliding minute (30 messages) and throttle
 * the whole mailbox when it is exceeded. Concurrent senders take slots in order.
 */

/** Time source of the limiter (injected so tests do not wait). */
export interface RateClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** A limiter: `acquire()` resolves when the caller may send. */
export interface SendRateLimiter {
  acquire(): Promise<void>;
}

const realClock: RateClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** A limiter of `perMinute` messages per minute; 0 means unlimited. */
export function createSendRateLimiter(perMinute: number, clock: RateClock = realClock): SendRateLimiter {
  if (perMinute <= 0) return { acquire: async () => undefined };
  const interval = 60_000 / perMinute;
  let next = -Infinity;
  return {
    async acquire() {
      const now = clock.now();
      const slot = Math.max(now, next);
      next = slot + interval;
      if (slot > now) await clock.sleep(slot - now);
    },
  };
}
