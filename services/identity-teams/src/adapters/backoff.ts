/** The backoff both clients use when the server gave no `Retry-After`. */

/** Parameters of {@link backoffDelay}. */
export interface BackoffPolicy {
  /** Ceiling of the first retry, in ms; doubled per retry. */
  backoffMs: number;
  /** Largest ceiling, in ms. */
  maxBackoffMs: number;
  /** Uniform [0, 1) source for the jitter. */
  random: () => number;
}

/** The wait before retry `retry` (1-based): 50–100 % of min(maxBackoffMs, backoffMs · 2^(retry−1)). */
export function backoffDelay(retry: number, policy: BackoffPolicy): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (policy.random() * ceiling) / 2);
}

/** A policy from a client's optional settings, with that client's defaults; the jitter defaults to Math.random. */
export function backoffPolicy(
  options: Partial<BackoffPolicy>,
  defaults: { backoffMs: number; maxBackoffMs: number },
): BackoffPolicy {
  return {
    backoffMs: options.backoffMs ?? defaults.backoffMs,
    maxBackoffMs: options.maxBackoffMs ?? defaults.maxBackoffMs,
    random: options.random ?? Math.random,
  };
}
