/**
 * Start-up that fails fast (issue 18): a service whose RPC port is taken exits within seconds, before it connects
 * or consumes anything, with one complete fatal line (service, time, cause). Run as real processes through the
 * services' own entry points, as `npm run up` and the chart start them.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCommandPublisher } from '../src/index.js';
import { IngestaManualCommandSchema, TipoIngesta } from '@lucy/proto';
import { createTestNats, testEnv, type TestNats } from '../../testkit/src/index.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** Runs an entry point to its exit; resolves with its status, stderr and how long it ran. */
function run(entry: string, env: Record<string, string>) {
  return new Promise<{ status: number | null; stderr: string; stdout: string; ms: number }>(
    (resolve, reject) => {
      const started = Date.now();
      const child = spawn(process.execPath, [TSX, entry], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
      child.once('error', reject);
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stderr, stdout, ms: Date.now() - started });
      });
    },
  );
}

async function takenPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

describe('fail-fast start-up', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  const cases: Array<[service: string, entry: string, env: Record<string, string>]> = [
    [
      'ingest-sial',
      'services/ingest-sial/src/main.ts',
      { SIAL_BASE_URL: 'http://127.0.0.1:9', SIAL_USER: 'usuario', SIAL_PASSWORD: 'contrasena' },
    ],
    ['scheduler', 'services/scheduler/src/main.ts', {}],
    [
      'identity-teams',
      'services/identity-teams/src/main.ts',
      {
        GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
        GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
        GRAPH_CLIENT_SECRET: 'secreto-de-prueba',
        IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
        LUCY_SECRET_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      },
    ],
    ['notifier', 'services/notifier/src/main.ts', {}],
  ];

  it.each(cases)(
    '%s exits within seconds on a taken RPC port, with one fatal line and nothing consumed',
    async (service, entry, extra) => {
      const t: TestNats = await createTestNats();
      cleanups.push(() => t.cleanup());
      const { server, port } = await takenPort();
      cleanups.push(() => new Promise((r) => server.close(r)));
      // A command waiting in the stream: a service that started consuming before it failed would take it.
      const publisher = createCommandPublisher(t.handles.js, t.names);
      await publisher.publish(
        'lucy.cmd.ingest.ingesta_manual',
        IngestaManualCommandSchema,
        { tipo: TipoIngesta.ASPIRANTES },
        { taskType: 'alumnos.tasks.ingesta_manual', requestedBy: 'test', trigger: 'admin' },
      );

      const before = Date.now();
      const r = await run(
        entry,
        testEnv({
          // Never reached: the port is checked first.
          DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/lucy_fail_fast_never_created',
          LUCY_PREFIX: t.prefix,
          RPC_PORT: String(port),
          METRICS_PORT: '0',
          LOG_LEVEL: 'info',
          ...extra,
        }),
      );
      // Within seconds of the process being up (tsx's own start-up on a loaded machine is most of this).
      expect(r.status, r.stderr).toBe(1);
      expect(r.ms).toBeLessThan(30_000);
      const fatal = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('"fatal"'));
      expect(fatal).toHaveLength(1);
      const line = JSON.parse(fatal[0]!) as Record<string, unknown>;
      expect(line).toMatchObject({ level: 'fatal', service });
      expect(line.msg).toMatch(/^start-up failed: .*EADDRINUSE/);
      expect(String(line.err)).toContain('EADDRINUSE');
      const time = Date.parse(String(line.time));
      expect(time).toBeGreaterThanOrEqual(before - 1000);
      expect(time).toBeLessThanOrEqual(Date.now());
      // Nothing attached to the command stream, and the waiting command is still there.
      const consumers = await t.handles.jsm.consumers.list(t.names.streams.cmd).next();
      expect(consumers.map((c) => c.name)).toEqual([]);
      const info = await t.handles.jsm.streams.info(t.names.streams.cmd);
      expect(info.state.messages).toBe(1);
    },
    120_000,
  );

  it('ingest-sial exits within seconds on an unreachable database, before it consumes anything', async () => {
    const t: TestNats = await createTestNats();
    cleanups.push(() => t.cleanup());
    const closed = await takenPort();
    const port = closed.port;
    await new Promise((r) => closed.server.close(r)); // nothing listens there now
    const r = await run(
      'services/ingest-sial/src/main.ts',
      testEnv({
        DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/lucy`,
        LUCY_PREFIX: t.prefix,
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
        SIAL_USER: 'usuario',
        SIAL_PASSWORD: 'contrasena',
      }),
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.ms).toBeLessThan(30_000);
    const fatal = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('"fatal"'));
    expect(fatal).toHaveLength(1);
    const line = JSON.parse(fatal[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'fatal', service: 'ingest-sial' });
    expect(line.msg).toMatch(/^start-up failed: database postgres:\/\/.*: connect ECONNREFUSED/);
    const consumers = await t.handles.jsm.consumers.list(t.names.streams.cmd).next();
    expect(consumers.map((c) => c.name)).toEqual([]);
  }, 120_000);

  it('the scheduler exits on an unreachable NATS after NATS_CONNECT_TIMEOUT_MS, with one fatal line naming it', async () => {
    const closed = await takenPort();
    const port = closed.port;
    await new Promise((r) => closed.server.close(r)); // nothing listens there now
    const r = await run(
      'services/scheduler/src/main.ts',
      testEnv({
        // A database that exists: the one failure is NATS.
        DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
        LUCY_PREFIX: 'failfastnats',
        NATS_URL: `nats://127.0.0.1:${port}`,
        NATS_CONNECT_TIMEOUT_MS: '2000',
        METRICS_PORT: '0',
        LOG_LEVEL: 'info',
      }),
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.ms).toBeLessThan(60_000);
    const fatal = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('"fatal"'));
    expect(fatal).toHaveLength(1);
    const line = JSON.parse(fatal[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 'fatal', service: 'scheduler' });
    expect(line.msg).toMatch(
      new RegExp(`^start-up failed: NATS unreachable at nats://127.0.0.1:${port} after 2000 ms`),
    );
  }, 120_000);
});
