/**
 * Loads of a settings row that may overlap — a service's periodic refresh and the reload right after a change made
 * through it. A load applies its row only when it started after the one applied last, so a refresh that read before
 * a change cannot bring the old value back after it, and a caller that awaits a load after writing sees a state that
 * includes its write (its own row, or a later load's). No load waits for another: with reads slower than the refresh
 * interval every load is overtaken, and waiting for the newest would apply nothing and hang every caller.
 */
export function latestLoad<R>(read: () => Promise<R>, apply: (row: R) => void): () => Promise<void> {
  let started = 0;
  let applied = 0;
  return async () => {
    const mine = ++started;
    const row = await read();
    if (mine < applied) return;
    apply(row);
    applied = mine;
  };
}
