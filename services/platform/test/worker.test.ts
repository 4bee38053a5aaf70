import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, fromBinary, toJsonString } from '@bufbuild/protobuf';
import { headers as natsHeaders } from '@nats-io/nats-core';
import {
  EliminarCuentaExternaCommandSchema,
  TaskFailedSchema,
  TaskStartedSchema,
  TaskSucceededSchema,
} from '@lucy/proto';
import {
  createTestNats,
  readStream,
  testLogger,
  waitFor,
  type StoredMessage,
  type TestNats,
} from '../../testkit/src/index.js';
import {
  CONTENT_TYPE,
  createCommandPublisher,
  createCommandWorker,
  H,
  PermanentError,
  TransientError,
  type CommandWorker,
} from '../src/index.js';

const SUBJECT = 'lucy.cmd.identity.eliminar_cuenta_externa';

describe('command worker', () => {
  let t: TestNats;
  let worker: CommandWorker;
  const handled: string[] = [];
  let transientFailuresLeft = 1;

  beforeAll(async () => {
    t = await createTestNats();
    worker = createCommandWorker({
      js: t.handles.js,
      jsm: t.handles.jsm,
      names: t.names,
      logger: testLogger(),
      durable: 'test_eliminar_cuenta',
      subject: SUBJECT,
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/1',
      cancellations: t.buckets.cancellations,
      backoffMs: () => 50,
      maxAttempts: 3,
      validate: (m) => (m.alumnoId ? [] : [{ field: 'alumnoId', message: 'es obligatorio' }]),
      alumnoIdOf: (m) => m.alumnoId,
      handle: async ({ message }) => {
        if (message.upn === 'transient@x' && transientFailuresLeft-- > 0)
          throw new TransientError('Graph no responde');
        if (message.upn === 'always-transient@x') throw new TransientError('Graph sigue sin responder');
        if (message.upn === 'permanent@x')
          throw new PermanentError('No es una cuenta de prueba', { code: 'T-999' });
        handled.push(message.alumnoId);
        return { cantidadEntidades: 1, detalles: { upn: message.upn, password: 'nunca-en-claro' } };
      },
    });
    await worker.start();
  });

  afterAll(async () => {
    await worker.stop();
    await t.cleanup();
  });

  async function eventsOf(taskId: string, kind: string): Promise<StoredMessage[]> {
    const all = await readStream(t.handles, t.names.streams.evt, t.names.evt('task', kind));
    return all.filter((m) => m.header(H.taskId) === taskId);
  }

  it('handles a protobuf command and publishes started and succeeded with the task headers', async () => {
    const pub = createCommandPublisher(t.handles.js, t.names);
    const { taskId } = await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a1', upn: 'test-a1@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin@fce',
        trigger: 'admin',
      },
    );
    await waitFor(async () => (await eventsOf(taskId, 'succeeded')).length === 1, {
      what: 'succeeded event',
    });
    const [started] = await eventsOf(taskId, 'started');
    expect(fromBinary(TaskStartedSchema, started!.data).alumnoId).toBe('a1');
    expect(started!.header(H.requestedBy)).toBe('admin@fce');
    expect(started!.header(H.trigger)).toBe('admin');
    const [ok] = await eventsOf(taskId, 'succeeded');
    const succeeded = fromBinary(TaskSucceededSchema, ok!.data);
    expect(succeeded.detalles).toEqual({ upn: 'test-a1@x', password: '[REDACTED]' });
    expect(handled).toContain('a1');
  });

  it('accepts the same command as protobuf JSON from another system, deriving a task id', async () => {
    const h = natsHeaders();
    h.set(H.contentType, CONTENT_TYPE.json);
    const body = toJsonString(
      EliminarCuentaExternaCommandSchema,
      create(EliminarCuentaExternaCommandSchema, { alumnoId: 'a2', upn: 'test-a2@x' }),
    );
    await t.handles.js.publish(t.names.full(SUBJECT), new TextEncoder().encode(body), { headers: h });
    await waitFor(() => handled.includes('a2'), { what: 'json command handled' });
  });

  it('retries a transient failure with backoff, then succeeds', async () => {
    const pub = createCommandPublisher(t.handles.js, t.names);
    const { taskId } = await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a3', upn: 'transient@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin',
        trigger: 'admin',
      },
    );
    await waitFor(async () => (await eventsOf(taskId, 'succeeded')).length === 1, {
      what: 'success after retry',
    });
    const failed = (await eventsOf(taskId, 'failed')).map((m) => fromBinary(TaskFailedSchema, m.data));
    expect(failed).toHaveLength(1);
    expect(failed[0]!.willRetry).toBe(true);
    expect(failed[0]!.attempt).toBe(1);
    // The wait before the next attempt travels with the failure (the tracker's Log row tells it).
    expect(Number(failed[0]!.retryInMs)).toBeGreaterThan(0);
  });

  it('fails a permanent error at once without dead-lettering it', async () => {
    const pub = createCommandPublisher(t.handles.js, t.names);
    const { taskId } = await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a4', upn: 'permanent@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin',
        trigger: 'admin',
      },
    );
    const [f] = await waitFor(async () => {
      const e = await eventsOf(taskId, 'failed');
      return e.length ? e : undefined;
    });
    const failed = fromBinary(TaskFailedSchema, f!.data);
    expect(failed).toMatchObject({
      willRetry: false,
      errorCode: 'T-999',
      mensajeError: 'No es una cuenta de prueba',
    });
  });

  it('dead-letters garbage, an invalid command and an exhausted one, and keeps serving', async () => {
    const h = natsHeaders();
    h.set(H.contentType, CONTENT_TYPE.protobuf);
    await t.handles.js.publish(t.names.full(SUBJECT), new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]), {
      headers: h,
    });
    const j = natsHeaders();
    j.set(H.contentType, CONTENT_TYPE.json);
    await t.handles.js.publish(t.names.full(SUBJECT), new TextEncoder().encode('{"upn": 42}'), {
      headers: j,
    });
    await t.handles.js.publish(t.names.full(SUBJECT), new TextEncoder().encode('{"upn": "sin-alumno@x"}'), {
      headers: j,
    });
    const pub = createCommandPublisher(t.handles.js, t.names);
    await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a5', upn: 'always-transient@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin',
        trigger: 'admin',
      },
    );
    const dlq = await waitFor(
      async () => {
        const info = await t.handles.jsm.streams.info(t.names.streams.dlq);
        return info.state.messages >= 4 ? info : undefined;
      },
      { what: 'four dead letters', timeoutMs: 15_000 },
    );
    expect(dlq.state.messages).toBe(4);
    const reasons: string[] = [];
    for (let seq = 1; seq <= 4; seq++) {
      const m = await t.handles.jsm.streams.getMessage(t.names.streams.dlq, { seq });
      reasons.push(m!.header.get(H.dlqReason));
      expect(m!.header.get(H.dlqSubject)).toBe(SUBJECT);
    }
    expect(reasons.some((r) => r.startsWith('undecodable: invalid protobuf'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('undecodable: invalid JSON'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('invalid: alumnoId: es obligatorio'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('max_deliveries: Graph sigue sin responder'))).toBe(true);
    // Still serving.
    await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a6', upn: 'test-a6@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin',
        trigger: 'admin',
      },
    );
    await waitFor(() => handled.includes('a6'), { what: 'still serving' });
  });

  it('skips a task that staff cancelled before it ran', async () => {
    const pub = createCommandPublisher(t.handles.js, t.names);
    const taskId = '01900000-0000-7000-8000-0000000000c1';
    await t.buckets.cancellations.put(taskId, 'cancelada por admin');
    await pub.publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'a7', upn: 'test-a7@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'admin',
        trigger: 'admin',
        taskId,
      },
    );
    await waitFor(async () => (await eventsOf(taskId, 'skipped')).length === 1, { what: 'skipped event' });
    expect(handled).not.toContain('a7');
  });
});
