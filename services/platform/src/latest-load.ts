/**
 * Loads of a settings row that may overlap — a service's periodic refresh and the reload right after a change made
 * through it. Only the last load started applies its row, so a refresh that read before a change cannot bring the
 * old value back after it. A load overtaken by a later one resolves only once that later one is done, so a caller
 * that awaits a load after writing (a settings RPC answering with the settings it just changed) sees a state that
 * includes its write, never the one before it (when every later load failed, its own row is applied).
 */
export function latestLoad<R>(read: () => Promise<R>, apply: (row: R) => void): () => Promise<void> {
  let started = 0;
  let applied = 0;
  let newest: Promise<void> = Promise.resolve();
  return () => {
    const mine = ++started;
    const run = (async () => {
      const row = await read();
      if (mine !== started) {
        // A later load read after this one: it applies (or fails, and its own caller hears of it).
        await newest.catch(() => undefined);
        if (applied > mine) return;
      }
      // The newest row read (or every later load failed): apply it.
      apply(row);
      applied = mine;
    })();
    newest = run;
    return run;
  };
}
