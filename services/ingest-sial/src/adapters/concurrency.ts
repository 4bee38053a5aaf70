/** Bounded concurrency for many independent calls (one personal-data request per alumno). */

/** Options of {@link mapWithConcurrency}. */
export interface MapWithConcurrencyOptions {
  /** Stops starting new items when aborted; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Calls `fn` for every item with at most `limit` calls in flight and resolves with the results in input order.
 * On the first rejection (or abort) no further items start; in-flight calls are awaited, then the promise rejects
 * with that first error. `fn` gets a signal that aborts in that case, so long calls can stop early. To keep going
 * past failures, make `fn` return a result instead of throwing.
 * @param limit maximum calls in flight, ≥ 1.
 */
export async function mapWithConcurrency<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: MapWithConcurrencyOptions = {},
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be an integer ≥ 1');
  const outer = options.signal;
  outer?.throwIfAborted();
  const inner = new AbortController();
  const onAbort = (): void => inner.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });

  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;

  const worker = async (): Promise<void> => {
    while (!failure && !inner.signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index, inner.signal);
      } catch (error) {
        failure ??= { error };
        inner.abort(error);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (outer?.aborted) throw outer.reason;
  if (failure) throw failure.error;
  return results;
}
