import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  createTestNats,
  testEnv,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { startTracker } from '../src/tracker.js';

describe('start-up', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase('tracker_test');
    nats = await createTestNats();
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => taken?.close(r));
    await nats?.cleanup();
    await db?.drop();
  });

  it('fails on a taken RPC port before it consumes anything', async () => {
    const config = loadConfig(
      testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: nats.prefix,
        MIGRATE_ON_START: 'true',
        RPC_PORT: String(port),
      }),
    );
    await expect(
      startTracker(config, { logger: testLogger('task-tracker'), stuckSweepIntervalMs: 0 }),
    ).rejects.toThrow(/EADDRINUSE/);
    // No projection durable was created, so nothing was taken from the streams.
    const durables: string[] = [];
    for (const stream of [nats.names.streams.cmd, nats.names.streams.evt])
      for await (const c of nats.handles.jsm.consumers.list(stream)) durables.push(c.name);
    expect(durables.filter((d) => d.startsWith('task-tracker'))).toEqual([]);
  }, 60_000);
});
