/** Time for the adapters, injectable so rate limits and backoff are testable without waiting. */
import { setTimeout as delay } from 'node:timers/promises';

/** A clock: current time in ms and an abortable sleep. */
export interface Clock {
  /** Milliseconds since some fixed origin (monotonic is fine). */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0) {
      signal?.throwIfAborted();
      return;
    }
    try {
      await delay(ms, undefined, signal ? { signal } : undefined);
    } catch (err) {
      throw signal?.aborted ? (signal.reason as unknown) : err;
    }
  },
};
