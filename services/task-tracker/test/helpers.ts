import {
  createTestDatabase,
  createTestNats,
  testEnv,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { startTracker, type Tracker, type TrackerOptions } from '../src/tracker.js';

/** A tracker on its own database and stream prefix, plus a NATS connection for the test itself. */
export interface TrackerHarness {
  db: TestDatabase;
  nats: TestNats;
  tracker: Tracker;
  /** Stops the tracker and removes the database and streams. */
  close(): Promise<void>;
}

/** Starts task-tracker in-process against the real NATS and Postgres, isolated for one test file. */
export async function startHarness(
  options: TrackerOptions & { env?: Record<string, string>; databaseUrl?: (url: string) => string } = {},
): Promise<TrackerHarness> {
  const db = await createTestDatabase('tracker_test');
  const nats = await createTestNats();
  const url = options.databaseUrl ? options.databaseUrl(db.url) : db.url;
  const config = loadConfig(
    testEnv({ DATABASE_URL: url, LUCY_PREFIX: nats.prefix, MIGRATE_ON_START: 'true', ...options.env }),
  );
  const tracker = await startTracker(config, {
    stuckSweepIntervalMs: 0,
    logger: testLogger('task-tracker'),
    ...options,
  });
  return {
    db,
    nats,
    tracker,
    async close() {
      await tracker.stop();
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Rows of a query on the tracker's database. */
export async function rows<T = Record<string, unknown>>(
  h: TrackerHarness,
  sql: string,
  bindings: unknown[] = [],
): Promise<T[]> {
  const res = await h.tracker.knex.raw<{ rows: T[] }>(sql, bindings as never);
  return res.rows;
}
