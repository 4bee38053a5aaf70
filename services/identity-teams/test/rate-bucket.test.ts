/**
 * The Graph write bucket on a real Postgres: concurrent writers of two replicas never get more tokens than the
 * bucket holds plus its refill, the writers waiting in a replica are served together (not one statement each),
 * and a writer that gives up leaves the queue.
 */
import { createOrm, migrate, type MikroORM } from '@lucy/platform';
import { createTestDatabase, testLogger, type TestDatabase } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgWriteLimiter, identityOrm } from '../src/db/index.js';
import { makeTestClock } from './support.js';

describe('the Postgres write bucket', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase('identity_rate_bucket');
    orm = await createOrm({ ...identityOrm, url: db.url, logger: testLogger() });
    await migrate(orm, identityOrm.schema);
  });

  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  it('never grants writers of two replicas more than the burst plus the refill since the start', async () => {
    const knex = orm.em.getKnex();
    // Sleeps move this clock at once: the limiter's waits cost no wall time, and its grants are stamped with it.
    const clock = makeTestClock();
    const start = clock.now();
    // 10 at once, then (60 − 10) per 10 s = one every 200 ms.
    const options = { knex, name: 'graph:two-replicas', limit: 60, windowMs: 10_000, burst: 10, clock };
    const [a, b] = [await createPgWriteLimiter(options), await createPgWriteLimiter(options)];
    const grantedAt: number[] = [];
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).acquire().then(() => grantedAt.push(clock.now()))),
    );
    grantedAt.sort((x, y) => x - y);
    grantedAt.forEach((t, i) => {
      // The (i+1)-th write needs i+1 tokens: the burst and what refilled by then.
      expect(i + 1).toBeLessThanOrEqual(10 + Math.floor((t - start) / 200) + 1);
    });
    expect(a.inWindow() + b.inWindow()).toBe(40);
  });

  it('serves the writers waiting in one replica with one statement per round', async () => {
    const knex = orm.em.getKnex();
    const clock = makeTestClock();
    const limiter = await createPgWriteLimiter({
      knex,
      name: 'graph:coalesced',
      limit: 10_000,
      windowMs: 150_000,
      burst: 1000,
      clock,
    });
    let statements = 0;
    const count = (q: { sql: string }) => {
      if (q.sql.includes('identity.rate_bucket')) statements++;
    };
    knex.on('query', count);
    try {
      await Promise.all(Array.from({ length: 200 }, () => limiter.acquire()));
    } finally {
      knex.off('query', count);
    }
    // The first acquisition takes one statement; the 199 queued behind it share the next ones.
    expect(statements).toBeLessThanOrEqual(3);
    expect(limiter.inWindow()).toBe(200);
  });

  it('drops a writer that gives up while waiting, and keeps its token for the others', async () => {
    const knex = orm.em.getKnex();
    const clock = makeTestClock();
    const limiter = await createPgWriteLimiter({
      knex,
      name: 'graph:abort',
      limit: 2,
      windowMs: 10_000,
      burst: 1,
      clock,
    });
    await limiter.acquire();
    const controller = new AbortController();
    const gaveUp = limiter.acquire(controller.signal);
    controller.abort();
    await expect(gaveUp).rejects.toThrow();
    // The one that gave up took nothing: the next writer gets the window's refill.
    clock.advance(10_001); // a whole token, clear of floating-point rounding
    await limiter.acquire();
    const { rows } = await knex.raw<{ rows: { tokens: number }[] }>(
      `select tokens from identity.rate_bucket where name = 'graph:abort'`,
    );
    expect(Number(rows[0]?.tokens)).toBeLessThan(1);
    expect(limiter.inWindow()).toBe(1); // the first write has left the window
  });
});
