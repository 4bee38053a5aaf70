// A NATS server of this test's own (same binary as production), so it can be stopped and restarted without
// disturbing the shared server other tests use; it also requires a user and password.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EliminarCuentaExternaCommandSchema } from '@lucy/proto';
import { testLogger, testPrefix, waitFor, freePort } from '../../testkit/src/index.js';
import {
  connectNats,
  createCommandPublisher,
  createCommandWorker,
  createNames,
  provisionBuckets,
  provisionStreams,
  type CommandWorker,
  type NatsHandles,
} from '../src/index.js';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const SUBJECT = 'lucy.cmd.identity.eliminar_cuenta_externa';

describe('consumer runner against a restarting, authenticated NATS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lucy-nats-'));
  let port = 0;
  let server: ChildProcess | undefined;
  let handles: NatsHandles;
  let worker: CommandWorker;
  const handled: string[] = [];
  const names = createNames(testPrefix('r'));

  const startServer = async () => {
    server = spawn(
      NATS_BIN,
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir, '--user', 'lucy', '--pass', 's3cret-pass'],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const s = createServer();
          s.once('error', () => resolve(true));
          s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
        }),
      { what: 'nats-server listening' },
    );
  };
  const stopServer = async () => {
    const s = server;
    if (!s || s.exitCode !== null) return;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGTERM');
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    await startServer();
    handles = await connectNats(
      { NATS_URL: `nats://127.0.0.1:${port}`, NATS_USER: 'lucy', NATS_PASSWORD: 's3cret-pass' },
      testLogger(),
      'resilience-test',
    );
    await provisionStreams(handles.jsm, names);
    await provisionBuckets(handles.kvm, names);
    worker = createCommandWorker({
      js: handles.js,
      jsm: handles.jsm,
      names,
      logger: testLogger(),
      durable: 'resilience_eliminar',
      subject: SUBJECT,
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/1',
      handle: async ({ message }) => {
        handled.push(message.alumnoId);
      },
    });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await handles?.nc.close();
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });

  const publish = (alumnoId: string) =>
    createCommandPublisher(handles.js, names).publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId, upn: `test-${alumnoId}@x` },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'test', trigger: 'admin' },
    );

  it('refuses a wrong password', async () => {
    await expect(
      connectNats(
        { NATS_URL: `nats://127.0.0.1:${port}`, NATS_USER: 'lucy', NATS_PASSWORD: 'wrong' },
        testLogger(),
        'bad',
      ),
    ).rejects.toThrow(/auth/i);
  });

  it('keeps consuming after the server restarts', async () => {
    await publish('before');
    await waitFor(() => handled.includes('before'), { what: 'command before restart' });

    await stopServer();
    await startServer();

    await waitFor(
      async () => {
        try {
          await publish('after');
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 20_000, what: 'publish after restart' },
    );
    await waitFor(() => handled.includes('after'), { timeoutMs: 30_000, what: 'command after restart' });
  }, 60_000);
});
