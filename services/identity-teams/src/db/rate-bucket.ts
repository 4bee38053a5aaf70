/**
 * One Graph write limit for every replica: a token bucket in Postgres (`identity.rate_bucket`). A bucket of
 * `burst` tokens refilled at `(limit − burst) / window` lets at most `burst + (limit − burst) = limit` writes through
 * in any window, so the sliding-window quota Graph enforces (3,000 writes per 150 s per app and tenant) is never
 * reached by all replicas together. Taking a token is one statement (row lock held for its duration only); times
 * come from the injected clock of each replica, so clocks must agree to within a small share of the window.
 */
import type { Knex } from '@mikro-orm/postgresql';
import type { AdapterClock, WriteLimiter } from '../adapters/index.js';

/** Options of {@link createPgWriteLimiter}. */
export interface PgWriteLimiterOptions {
  knex: Knex;
  /** Bucket name: one per Graph app and tenant. */
  name: string;
  /** Writes per window, all replicas together. */
  limit: number;
  windowMs: number;
  /** Tokens a quiet bucket holds (writes that may go at once); capped at `limit`. */
  burst: number;
  clock: AdapterClock;
  /** Called with the time waited for a token (metrics). */
  onWait?: (ms: number) => void;
}

/**
 * A {@link WriteLimiter} shared through Postgres. `inWindow()` counts this replica's writes only.
 *
 * Every write used to run its own statement on the bucket's one row: with dozens of activations at once they
 * queued on that row lock (and a descheduled holder stalled them all). Now the acquisitions waiting in this
 * replica are taken together: one statement at a time grants up to as many tokens as there are waiters, and each
 * granted token is handed to a waiter at once, so the bound (never more than `limit` in a window, all replicas
 * together) is kept exactly — no token is taken ahead of a write.
 */
export async function createPgWriteLimiter(options: PgWriteLimiterOptions): Promise<WriteLimiter> {
  const { knex, name, clock } = options;
  const burst = Math.max(1, Math.min(options.burst, options.limit));
  // limit === burst would mean no refill at all: keep a trickle so the bucket never starves.
  const ratePerMs = Math.max(options.limit - burst, 1) / options.windowMs;
  await knex.raw(
    `insert into identity.rate_bucket (name, tokens, updated_ms) values (?, ?, ?) on conflict (name) do nothing`,
    [name, burst, clock.now()],
  );
  const local: number[] = [];
  interface Waiter {
    since: number;
    resolve: () => void;
    reject: (err: unknown) => void;
  }
  const waiters: Waiter[] = [];
  let pumping = false;

  /** Takes up to `want` tokens in one statement; returns how many it got and the tokens the bucket had. */
  const take = async (want: number, now: number) => {
    const { rows } = await knex.raw<{ rows: { avail: number; granted: number }[] }>(
      `with cur as (
         select name, least(?::float8, tokens + greatest(0, ?::bigint - updated_ms) * ?::float8) as avail,
                greatest(updated_ms, ?::bigint) as ts
         from identity.rate_bucket where name = ? for update
       )
       update identity.rate_bucket b
          set tokens = cur.avail - least(floor(cur.avail), ?::int), updated_ms = cur.ts
         from cur where b.name = cur.name
       returning cur.avail as avail, least(floor(cur.avail), ?::int)::int as granted`,
      [burst, now, ratePerMs, now, name, want, want],
    );
    return { avail: Number(rows[0]?.avail ?? 0), granted: Number(rows[0]?.granted ?? 0) };
  };

  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (waiters.length > 0) {
        const now = clock.now();
        let got: { avail: number; granted: number };
        try {
          got = await take(waiters.length, now);
        } catch (err) {
          // The database is unreachable: every waiter fails (the Graph call is retried by its task).
          for (const w of waiters.splice(0)) w.reject(err);
          return;
        }
        for (const w of waiters.splice(0, got.granted)) {
          local.push(now);
          if (now > w.since) options.onWait?.(now - w.since);
          w.resolve();
        }
        if (waiters.length > 0 && got.granted === 0) {
          const waitMs = Math.max(1, Math.ceil((1 - (got.avail - Math.floor(got.avail))) / ratePerMs));
          await clock.sleep(waitMs);
        }
      }
    } finally {
      pumping = false;
    }
  };

  return {
    acquire(signal) {
      signal?.throwIfAborted();
      return new Promise<void>((resolve, reject) => {
        const w: Waiter = { since: clock.now(), resolve, reject };
        waiters.push(w);
        signal?.addEventListener(
          'abort',
          () => {
            const i = waiters.indexOf(w);
            if (i >= 0) {
              waiters.splice(i, 1);
              reject(
                signal.reason instanceof Error ? signal.reason : new Error('Graph write permit aborted'),
              );
            }
          },
          { once: true },
        );
        void pump();
      });
    },
    inWindow() {
      const since = clock.now() - options.windowMs;
      while (local.length > 0 && (local[0] ?? 0) <= since) local.shift();
      return local.length;
    },
  };
}
