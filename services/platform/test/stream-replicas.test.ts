// LUCY_STREAM_REPLICAS reaches JetStream: a three-server cluster of this test's own (same binary as production,
// routes on loopback) gets the streams and buckets with three replicas, and keeps them when a server stops.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testLogger, testPrefix, waitFor, freePort } from '../../testkit/src/index.js';
import {
  connectNats,
  createNames,
  openRunnerBuckets,
  parseEnv,
  platformEnvShape,
  provisionBuckets,
  provisionStreams,
  z,
  type NatsHandles,
} from '../src/index.js';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

describe('LUCY_STREAM_REPLICAS', () => {
  const schema = z.object({ LUCY_STREAM_REPLICAS: platformEnvShape.LUCY_STREAM_REPLICAS });

  it('defaults to one replica and accepts 1 to 5', () => {
    expect(parseEnv(schema, {}).LUCY_STREAM_REPLICAS).toBe(1);
    expect(parseEnv(schema, { LUCY_STREAM_REPLICAS: '3' }).LUCY_STREAM_REPLICAS).toBe(3);
  });

  it('rejects zero, more than five and non-numbers with the variable named', () => {
    for (const bad of ['0', '6', 'tres', '1.5'])
      expect(() => parseEnv(schema, { LUCY_STREAM_REPLICAS: bad })).toThrow(/LUCY_STREAM_REPLICAS/);
  });
});

describe('streams and buckets on a three-server JetStream cluster', () => {
  const dirs: string[] = [];
  const servers: ChildProcess[] = [];
  const clientPorts: number[] = [];
  let handles: NatsHandles;
  const names = createNames(testPrefix('rep'));

  /** Starts three servers on fresh ports; resolves once every one is healthy, rejects when one exits or stalls. */
  async function startCluster(): Promise<void> {
    const clusterPorts: number[] = [];
    const monitorPorts: number[] = [];
    const ports: number[] = [];
    for (let i = 0; i < 3; i++) {
      ports.push(await freePort());
      clusterPorts.push(await freePort());
      monitorPorts.push(await freePort());
    }
    const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(',');
    let exited: string | undefined;
    for (let i = 0; i < 3; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'lucy-nats-r3-'));
      dirs.push(dir);
      const server = spawn(
        NATS_BIN,
        [
          '-a',
          '127.0.0.1',
          '-p',
          String(ports[i]),
          '-m',
          String(monitorPorts[i]),
          '-n',
          `lucy-r3-${i}`,
          '-js',
          '-sd',
          dir,
          '--cluster_name',
          'lucy-r3',
          '--cluster',
          `nats://127.0.0.1:${clusterPorts[i]}`,
          '--routes',
          routes,
        ],
        { stdio: 'ignore' },
      );
      // A port taken between freePort() and the server's bind makes it exit at once: start afresh.
      server.once('exit', (code) => (exited ??= `server ${i} exited with ${code}`));
      servers.push(server);
    }
    // Every server healthy means the JetStream meta group has a leader and streams can be placed.
    await waitFor(
      async () => {
        if (exited) throw new Error(exited);
        const ok = await Promise.all(
          monitorPorts.map((p) =>
            fetch(`http://127.0.0.1:${p}/healthz`).then(
              (r) => r.ok,
              () => false,
            ),
          ),
        );
        return ok.every(Boolean);
      },
      { what: 'JetStream cluster healthy', timeoutMs: 30_000, intervalMs: 200 },
    );
    clientPorts.push(...ports);
  }

  beforeAll(async () => {
    // Under a loaded machine a cluster occasionally fails to form (a port race, a stalled election): one more try
    // on fresh ports, so the test judges the replicas, not the machine.
    for (let tries = 1; ; tries++) {
      try {
        await startCluster();
        break;
      } catch (err) {
        for (const s of servers.splice(0)) s.kill('SIGKILL');
        if (tries >= 2) throw err;
      }
    }
    handles = await connectNats(
      { NATS_URL: clientPorts.map((p) => `nats://127.0.0.1:${p}`).join(',') },
      testLogger(),
      'stream-replicas-test',
    );
  }, 75_000);

  afterAll(async () => {
    await handles?.nc.close();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.exitCode !== null) return resolve();
            s.once('exit', () => resolve());
            s.kill('SIGTERM');
          }),
      ),
    );
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('creates every stream and bucket with three replicas and keeps them writable when one server stops', async () => {
    await provisionStreams(handles.jsm, names, 3);
    await provisionBuckets(handles.kvm, names, 3);
    await openRunnerBuckets(handles.js, names, 3);
    const { leases, registry, cancellations, outcomes, positions } = names.buckets;
    for (const stream of [
      ...Object.values(names.streams),
      ...[leases, registry, cancellations, outcomes, positions].map((b) => `KV_${b}`),
    ]) {
      const info = await handles.jsm.streams.info(stream);
      expect(info.config.num_replicas, stream).toBe(3);
    }
    // Stop a server that is not the one this client is connected to; R3 keeps a quorum of two.
    const connected = handles.nc.getServer();
    const victim = servers.find((_, i) => !connected.endsWith(`:${clientPorts[i]}`))!;
    victim.kill('SIGTERM');
    await new Promise((r) => victim.once('exit', r));
    await waitFor(
      async () => {
        try {
          await handles.js.publish(`${names.allEvents.replace(/>$/, '')}test.replicas`, 'x');
          return true;
        } catch {
          return false;
        }
      },
      { what: 'publish with one server down', timeoutMs: 20_000 },
    );
  }, 40_000);
});
