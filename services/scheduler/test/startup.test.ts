import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger } from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { createScheduler } from '../src/scheduler.js';
import { createInfra, replicaEnv, type Infra } from './helpers.js';

describe('start-up', () => {
  let infra: Infra;
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    infra = await createInfra();
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    port = (taken.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((r) => taken?.close(r));
    await infra?.cleanup();
  });

  it('fails on a taken RPC port before it takes the leader lease or publishes anything', async () => {
    const config = loadConfig(replicaEnv(infra, { INSTANCE_ID: 'port-taken', RPC_PORT: String(port) }));
    const started = Date.now();
    await expect(createScheduler(config, { logger: testLogger('scheduler') })).rejects.toThrow(/EADDRINUSE/);
    expect(Date.now() - started).toBeLessThan(30_000);
    // Never led: the lease was never written by this replica.
    const entry = await infra.nats.buckets.leases.get('scheduler.leader');
    expect(entry === null || entry.operation !== 'PUT' || !entry.string().includes('port-taken')).toBe(true);
  }, 60_000);
});
