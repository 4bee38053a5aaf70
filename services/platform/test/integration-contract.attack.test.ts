import { headers as natsHeaders } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EliminarCuentaExternaCommandSchema, TaskFailedSchema } from '@lucy/proto';
import { fromBinary } from '@bufbuild/protobuf';
import { createTestNats, readStream, testLogger, waitFor, type TestNats } from '../../testkit/src/index.js';
import { createCommandWorker, decode, H, type CommandWorker } from '../src/index.js';

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
