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

/** A {@link WriteLimiter} shared through Postgres. `inWindow()` counts this replica's writes only. */
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
  return {
    async acquire(signal) {
      for (;;) {
        signal?.throwIfAborted();
        const now = clock.now();
        const { rows } = await knex.raw<{ rows: { avail: number }[] }>(
          `with cur as (
             select name, least(?::float8, tokens + greatest(0, ?::bigint - updated_ms) * ?::float8) as avail,
                    greatest(updated_ms, ?::bigint) as ts
             from identity.rate_bucket where name = ? for update
           )
           update identity.rate_bucket b
              set tokens = case when cur.avail >= 1 then cur.avail - 1 else cur.avail end, updated_ms = cur.ts
             from cur where b.name = cur.name
           returning cur.avail as avail`,
          [burst, now, ratePerMs, now, name],
        );
        const avail = Number(rows[0]?.avail ?? 0);
        if (avail >= 1) {
          local.push(now);
          return;
        }
        const waitMs = Math.max(1, Math.ceil((1 - avail) / ratePerMs));
        options.onWait?.(waitMs);
        await clock.sleep(waitMs, signal);
      }
    },
    inWindow() {
      const since = clock.now() - options.windowMs;
      while (local.length > 0 && (local[0] ?? 0) <= since) local.shift();
      return local.length;
    },
  };
}
