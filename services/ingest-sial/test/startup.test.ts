import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  createTestNats,
  testEnv,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { startIngestService } from '../src/service.js';

describe('ingest-sial start-up', () => {
  let db: TestDatabase | undefined;
  let t: TestNats | undefined;
  let taken: Server | undefined;

  afterAll(async () => {
    await new Promise((r) => taken?.close(r) ?? r(undefined));
    await t?.cleanup();
    await db?.drop();
  });

  it('fails on a taken RPC port before it consumes any command', async () => {
    db = await createTestDatabase('ingest_startup');
    t = await createTestNats();
    taken = createServer();
    await new Promise<void>((r) => taken!.listen(0, '127.0.0.1', r));
    const port = (taken.address() as { port: number }).port;
    const config = loadConfig(
      testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: t.prefix,
        MIGRATE_ON_START: 'true',
        RPC_PORT: String(port),
        SIAL_BASE_URL: 'http://127.0.0.1:9',
        SIAL_USER: 'usuario',
        SIAL_PASSWORD: 'contrasena',
      }),
    );
    const started = Date.now();
    await expect(startIngestService(config, { logger: testLogger('ingest-sial') })).rejects.toThrow(
      /EADDRINUSE/,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    // No worker ever attached to the command stream.
    const consumers = await t.handles.jsm.consumers.list(t.names.streams.cmd).next();
    expect(consumers.map((c) => c.name)).toEqual([]);
  }, 30_000);
});
