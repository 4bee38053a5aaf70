import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { EliminarCuentaExternaCommandSchema, TaskFailedSchema, TaskService } from '@lucy/proto';
import { fromBinary } from '@bufbuild/protobuf';
import {
  createTestNats,
  readStream,
  TEST_TOKEN,
  testLogger,
  waitFor,
  type TestNats,
} from '../../testkit/src/index.js';
import {
  createCommandWorker,
  createRpcClient,
  decode,
  H,
  revokeApiKey,
  startRpcServer,
  type CommandWorker,
} from '../src/index.js';
import { createApiKey, readApiKeysFile } from '../src/api-keys.js';

/** Attacks on the integration contract (issue 20): what another system can send, and the API keys file. */

const enc = (s: string) => new TextEncoder().encode(s);
const reasonOf = (body: string, contentType = 'application/json') => {
  try {
    decode(EliminarCuentaExternaCommandSchema, enc(body), contentType);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('decoded');
};

describe('json commands another system can send', () => {
  const big = 'x'.repeat(200_000);

  it('keeps the reason of a huge unknown field name, map key or Content-Type short', () => {
    for (const [body, ct] of [
      [`{"${big}":1}`, 'application/json'],
      ['{}', `application/${big}`],
    ] as const) {
      const reason = reasonOf(body, ct);
      expect(reason.length).toBeLessThan(2000);
    }
    // Still names what was wrong.
    expect(reasonOf(`{"${big}":1}`)).toMatch(
      /^invalid JSON for lucy\.identity\.v1\.EliminarCuentaExternaCommand: field "xxx/,
    );
    expect(reasonOf('{}', `application/${big}`)).toMatch(/^unsupported Content-Type "application\/xxx/);
  });

  it('names the field of a deeply nested value instead of a stack overflow', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(reasonOf(`{"alumnoId": ${deep}}`)).toMatch(/field "alumnoId"/);
    expect(reasonOf(deep)).not.toMatch(/call stack/);
  });

  it('refuses a __proto__ key as an unknown field without touching prototypes', () => {
    expect(reasonOf('{"__proto__": {"polluted": true}}')).toMatch(
      /field "__proto__": received an unknown field/,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('a huge command sent to a real worker', () => {
  let t: TestNats;
  let worker: CommandWorker;

  beforeAll(async () => {
    t = await createTestNats();
    worker = createCommandWorker({
      js: t.handles.js,
      jsm: t.handles.jsm,
      names: t.names,
      logger: testLogger(),
      durable: 'test_huge',
      subject: 'lucy.cmd.test.huge',
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/huge',
      backoffMs: () => 50,
      handle: async () => undefined,
    });
    await worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await t?.cleanup();
  });

  it('dead-letters it with a bounded reason, and its failed Tarea says so briefly', async () => {
    const h = natsHeaders();
    h.set(H.contentType, 'application/json');
    h.set(H.taskType, 'alumnos.tasks.eliminar_cuenta_externa');
    h.set(H.taskId, 'huge-1');
    h.set(H.msgId, 'huge-1');
    // Near the server's 1 MiB payload: an echoed name alone would not fit in the TaskFailed event.
    await t.handles.js.publish(t.names.full('lucy.cmd.test.huge'), enc(`{"${'k'.repeat(1_000_000)}":1}`), {
      headers: h,
    });
    const failed = await waitFor(
      async () =>
        (await readStream(t.handles, t.names.streams.evt, t.names.evt('task', 'failed'))).find(
          (m) => m.header(H.taskId) === 'huge-1',
        ),
      { timeoutMs: 30_000, what: 'the TaskFailed of the huge command' },
    );
    const ev = fromBinary(TaskFailedSchema, failed.data);
    expect(ev.mensajeError.length).toBeLessThan(2000);
    expect(ev.mensajeError).toMatch(/^Comando indescifrable: .*field "kkk/);
    const dead = (await readStream(t.handles, t.names.streams.dlq)).filter(
      (m) => m.header(H.taskId) === 'huge-1',
    );
    expect(dead).toHaveLength(1);
  }, 60_000);
});

describe('the API keys file edited by several `lucy apikeys` at once', () => {
  const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const run = (args: string[]) =>
    new Promise<number | null>((resolve, reject) => {
      const p = spawn(
        process.execPath,
        [tsx, join(import.meta.dirname, 'fixtures-api-keys-edit.ts'), ...args],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
        },
      );
      p.once('error', reject);
      p.once('exit', resolve);
    });

  it('loses neither a revocation nor a new key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lucy-apikeys-race-'));
    try {
      const file = join(dir, 'keys.json');
      const { record: leaked } = createApiKey(file, 'sis-viejo', ['*']);
      // Start together once every process is up (tsx's start-up is slow on a loaded machine).
      const startAt = String(Date.now() + 8000);
      const codes = await Promise.all([
        run([file, 'revoke', leaked.id, startAt]),
        ...[1, 2, 3, 4].map(() => run([file, 'create', '25', startAt])),
      ]);
      expect(codes).toEqual([0, 0, 0, 0, 0]);
      const keys = readApiKeysFile(file);
      expect(keys.find((k) => k.id === leaked.id)?.revokedAt).toBeDefined();
      expect(keys).toHaveLength(1 + 4 * 25);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a revoked API key on a stream it opened before', () => {
  it('gets no more messages once the servers see the revocation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lucy-apikeys-stream-'));
    const file = join(dir, 'keys.json');
    const server = await startRpcServer({
      port: 0,
      host: '127.0.0.1',
      token: TEST_TOKEN,
      apiKeysFile: file,
      logger: testLogger(),
      metrics: false,
      services: [TaskService],
      readiness: [],
      routes: (router) => {
        router.service(TaskService, {
          async getTarea() {
            return {};
          },
          async *watchTareas(_req, ctx) {
            while (!ctx.signal.aborted) {
              yield {};
              await new Promise((r) => setTimeout(r, 50));
            }
          },
        });
      },
    });
    try {
      const { key, record } = createApiKey(file, 'panel-externo', ['lucy.task.v1.TaskService/*']);
      const client = createRpcClient(TaskService, { baseUrl: server.url, token: key });
      const accepted = async () => {
        try {
          await client.getTarea({});
          return 'ok';
        } catch (err) {
          return Code[ConnectError.from(err).code];
        }
      };
      await waitFor(async () => (await accepted()) === 'ok', { what: 'the key accepted', timeoutMs: 10_000 });
      const ac = new AbortController();
      const stream = client.watchTareas({}, { signal: ac.signal })[Symbol.asyncIterator]();
      await stream.next();
      revokeApiKey(file, record.id);
      await waitFor(async () => (await accepted()) === 'Unauthenticated', {
        what: 'the revoked key refused on a new call',
        timeoutMs: 10_000,
      });
      // The open stream ends too, instead of serving the revoked key for as long as it stays open.
      let ended: string | undefined;
      try {
        for (let i = 0; i < 200 && !ended; i++) if ((await stream.next()).done) ended = 'done';
      } catch (err) {
        ended = Code[ConnectError.from(err).code];
      } finally {
        ac.abort();
      }
      expect(ended).toBe('Unauthenticated');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
