import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EliminarCuentaExternaCommandSchema } from '@lucy/proto';
import {
  createTestNats,
  readStream,
  testLogger,
  waitFor,
  type TestNats,
  TEST_NATS_URL,
} from '../../testkit/src/index.js';
import {
  connectNats,
  createCommandPublisher,
  createCommandWorker,
  H,
  type CommandWorker,
  type CommandWorkerOptions,
  type NatsHandles,
} from '../src/index.js';

type Options = CommandWorkerOptions<typeof EliminarCuentaExternaCommandSchema>;

/** Attacks on the consumer runner's guarantees (issue 24), each against the real NATS. */
describe('consumer runner under attack', () => {
  let t: TestNats;
  const workers: CommandWorker[] = [];
  const extraConnections: NatsHandles[] = [];

  beforeAll(async () => {
    t = await createTestNats();
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    for (const h of extraConnections) await h.nc.close().catch(() => undefined);
    await t.cleanup();
  });

  const subjectOf = (name: string) => `lucy.cmd.test.${name}`;

  async function startWorker(
    name: string,
    handle: Options['handle'],
    extra: Partial<Options> = {},
  ): Promise<CommandWorker> {
    const w = createCommandWorker({
      js: t.handles.js,
      jsm: t.handles.jsm,
      names: t.names,
      logger: testLogger(),
      durable: `test_${name}`,
      subject: subjectOf(name),
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: `test/${name}`,
      backoffMs: () => 50,
      handle,
      ...extra,
    });
    workers.push(w);
    await w.start();
    return w;
  }

  const publish = (name: string, alumnoId: string) =>
    createCommandPublisher(t.handles.js, t.names).publish(
      subjectOf(name),
      EliminarCuentaExternaCommandSchema,
      { alumnoId, upn: `${alumnoId}@x` },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'test', trigger: 'admin' },
    );

  const events = async (kind: string, taskId: string) =>
    (await readStream(t.handles, t.names.streams.evt, t.names.evt('task', kind))).filter(
      (m) => m.header(H.taskId) === taskId,
    );

  it('keeps running commands after the outcomes bucket is deleted under it', async () => {
    const handled: string[] = [];
    await startWorker('bucket-gone', async ({ message }) => {
      handled.push(message.alumnoId);
    });
    const first = await publish('bucket-gone', 'b1');
    await waitFor(async () => (await events('succeeded', first.taskId)).length === 1);
    await t.handles.jsm.streams.delete(`KV_${t.names.buckets.outcomes}`);
    const second = await publish('bucket-gone', 'b2');
    await waitFor(async () => (await events('succeeded', second.taskId)).length === 1, { timeoutMs: 10_000 });
    expect(handled).toEqual(['b1', 'b2']);
  }, 20_000);

  it('leaves one dead letter per task when a second copy of a dead-lettered task is delivered', async () => {
    await startWorker(
      'dlq-copy',
      async () => {
        throw new Error('Graph no responde');
      },
      { maxAttempts: 1 },
    );
    const { taskId } = await publish('dlq-copy', 'dc1');
    const deadOf = async () =>
      (await readStream(t.handles, t.names.streams.dlq)).filter((m) => m.header(H.taskId) === taskId);
    await waitFor(async () => (await deadOf()).length === 1);
    // The same task published again (a publisher's retry under a new message id): its outcome is re-reported.
    await createCommandPublisher(t.handles.js, t.names).publish(
      subjectOf('dlq-copy'),
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'dc1', upn: 'dc1@x' },
      {
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        requestedBy: 'test',
        trigger: 'admin',
        taskId,
        msgId: 'dc1-again',
      },
    );
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_dlq-copy');
      return i.num_pending === 0 && i.num_ack_pending === 0;
    });
    expect(await deadOf()).toHaveLength(1);
  });

  it('dead-letters a task whose run dies with its process on the last attempt instead of running it again', async () => {
    // Process A: its connection is cut in the middle of the run, as when the process crashes.
    const a = await connectNats({ NATS_URL: TEST_NATS_URL }, testLogger('nats'), 'attack-a');
    extraConnections.push(a);
    let runsA = 0;
    let runsB = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const wa = createCommandWorker({
      js: a.js,
      jsm: a.jsm,
      names: t.names,
      logger: testLogger(),
      durable: 'test_crash',
      subject: subjectOf('crash'),
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/crash-a',
      maxAttempts: 1,
      ackWaitMs: 1000,
      handle: async () => {
        runsA++;
        await a.nc.close();
        await gate;
      },
    });
    await wa.start();
    const { taskId } = await publish('crash', 'c1');
    await waitFor(() => runsA === 1);
    await startWorker(
      'crash',
      async () => {
        runsB++;
      },
      { maxAttempts: 1, ackWaitMs: 1000, worker: 'test/crash-b' },
    );
    const dead = await waitFor(
      async () =>
        (await readStream(t.handles, t.names.streams.dlq)).find((m) => m.header(H.taskId) === taskId),
      { timeoutMs: 10_000 },
    );
    expect(dead.header(H.dlqReason)).toMatch(/max_deliveries/);
    expect(runsB).toBe(0);
    release();
  }, 20_000);
});
