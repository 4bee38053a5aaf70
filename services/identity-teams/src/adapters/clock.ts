/** Time for the adapters, injected so retries, backoff and the write limiter are testable without waiting. */
import { setTimeout as wait } from 'node:timers/promises';

/** Current time in epoch ms, and a sleep that rejects with the signal's reason when it is aborted. */
export interface AdapterClock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The wall clock (epoch ms, so it can be compared with `Retry-After` dates). */
export const realClock: AdapterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => wait(Math.max(0, ms), undefined, { signal }),
};
