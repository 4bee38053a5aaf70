import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EliminarCuentaExternaCommandSchema, EnviarEmailCommandSchema } from '@lucy/proto';
import { createTestNats, readStream, testLogger, waitFor, type TestNats } from '../../testkit/src/index.js';
import {
  createCommandPublisher,
  createCommandWorker,
  H,
  newTraceparent,
  traceIdOf,
  type CommandWorker,
} from '../src/index.js';

const SUBJECT = 'lucy.cmd.identity.eliminar_cuenta_externa';
const SENT_ON = 'lucy.cmd.notify.enviar_email';

describe('trace context through a worker', () => {
  let t: TestNats;
  let worker: CommandWorker;

  beforeAll(async () => {
    t = await createTestNats();
    const publisher = createCommandPublisher(t.handles.js, t.names);
    worker = createCommandWorker({
      js: t.handles.js,
      jsm: t.handles.jsm,
      names: t.names,
      logger: testLogger(),
      durable: 'test_trace',
      subject: SUBJECT,
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/1',
      // Sends a command on without passing any trace, as a handler that forgets to would.
      handle: async ({ message }) => {
        await publisher.publish(
          SENT_ON,
          EnviarEmailCommandSchema,
          { alumnoId: message.alumnoId },
          {
            taskType: 'alumnos.tasks.enviar_email_credenciales',
            requestedBy: 'sistema',
            trigger: 'external',
          },
        );
      },
    });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await t?.cleanup();
  });

  it('gives the command a task sends on, and every event of the task, the trace of the command that started it', async () => {
    const traceparent = newTraceparent();
    const { taskId } = await createCommandPublisher(t.handles.js, t.names).publish(
      SUBJECT,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'alu-1', upn: 'alu1@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'ana@fce',
        trigger: 'admin',
        traceparent,
      },
    );
    const sentOn = await waitFor(
      async () => (await readStream(t.handles, t.names.streams.cmd, t.names.full(SENT_ON)))[0],
      { what: 'the command sent on', timeoutMs: 15_000 },
    );
    const events = await waitFor(
      async () => {
        const evts = (await readStream(t.handles, t.names.streams.evt)).filter(
          (m) => m.header(H.taskId) === taskId,
        );
        return evts.some((m) => m.subject.endsWith('.succeeded')) ? evts : undefined;
      },
      { what: 'the task events', timeoutMs: 15_000 },
    );
    const traceId = traceIdOf(traceparent);
    expect(traceIdOf(sentOn.header(H.traceparent))).toBe(traceId);
    expect(sentOn.header(H.taskId)).not.toBe(taskId);
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const e of events) expect(traceIdOf(e.header(H.traceparent))).toBe(traceId);
  });
});
