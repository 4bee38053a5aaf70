import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { headers as natsHeaders } from '@nats-io/nats-core';
import {
  EliminarCuentaExternaCommandSchema,
  LogEventSchema,
  TaskFailedSchema,
  TaskStartedSchema,
  TaskSucceededSchema,
} from '@lucy/proto';
import { createTestNats, readStream, testLogger, waitFor, type TestNats } from '../../testkit/src/index.js';
import {
  CONTENT_TYPE,
  consumerRecreated,
  createCommandPublisher,
  createCommandWorker,
  H,
  openRunnerBuckets,
  readConsumerPosition,
  readTaskOutcome,
  taskIdFromDelivery,
  TransientError,
  uuidv7,
  type CommandWorker,
  type CommandWorkerOptions,
  type HandlerResult,
  type TaskOutcomeRecord,
} from '../src/index.js';

type Schema = typeof EliminarCuentaExternaCommandSchema;
type Options = CommandWorkerOptions<Schema>;

/** The reproductions (issue 24), each against the real NATS. */
describe('consumer runner: one execution per task, whatever the timing', () => {
  let t: TestNats;
  const workers: CommandWorker[] = [];

  beforeAll(async () => {
    t = await createTestNats();
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await t.cleanup();
  });

  const subjectOf = (name: string) => `lucy.cmd.test.${name}`;

  function startWorker(
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
    return w.start().then(() => w);
  }

  const publish = (name: string, alumnoId: string, extra: { taskId?: string; msgId?: string } = {}) =>
    createCommandPublisher(t.handles.js, t.names).publish(
      subjectOf(name),
      EliminarCuentaExternaCommandSchema,
      { alumnoId, upn: `${alumnoId}@x` },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'test', trigger: 'admin', ...extra },
    );

  const events = async (kind: string, taskId?: string) =>
    (await readStream(t.handles, t.names.streams.evt, t.names.evt('task', kind))).filter(
      (m) => !taskId || m.header(H.taskId) === taskId,
    );

  const until = (p: () => boolean) => waitFor(p, { timeoutMs: 15_000 });
  const released = () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    return { gate, release };
  };

  it('runs every queued command once when commands outlast the ack wait (concurrency 1)', async () => {
    const runs = new Map<string, number>();
    await startWorker(
      'queued',
      async ({ message, working }) => {
        runs.set(message.alumnoId, (runs.get(message.alumnoId) ?? 0) + 1);
        // Work longer than the ack wait; the runner's heartbeats keep this one alive, and the queued ones are
        // not pulled until the slot is free.
        await new Promise((r) => setTimeout(r, 1500));
        working();
      },
      { concurrency: 1, ackWaitMs: 1000 },
    );
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await publish('queued', `q${i}`)).taskId);
    await waitFor(async () => (await events('succeeded')).length >= 4, { timeoutMs: 20_000 });
    expect([...runs.values()]).toEqual([1, 1, 1, 1]);
    const started = (await events('started')).filter((m) => ids.includes(m.header(H.taskId)!));
    expect(started).toHaveLength(4);
    expect(started.map((m) => fromBinary(TaskStartedSchema, m.data).attempt)).toEqual([1, 1, 1, 1]);
    const info = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_queued');
    expect(info.num_ack_pending).toBe(0);
  }, 30_000);

  it('does not run a second delivery of a task this process is running; it settles it with the run', async () => {
    let runs = 0;
    const { gate, release } = released();
    await startWorker(
      'same-process',
      async () => {
        runs++;
        await gate;
      },
      { concurrency: 2 },
    );
    const { taskId } = await publish('same-process', 'sp1', { msgId: 'sp1-a' });
    await until(() => runs === 1);
    // Another copy of the same task (a redelivery, or the publisher sending it again under another id).
    await publish('same-process', 'sp1', { taskId, msgId: 'sp1-b' });
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_same-process');
      return i.num_pending === 0 && i.num_ack_pending === 2;
    });
    release();
    await waitFor(async () => (await events('succeeded', taskId)).length === 1);
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_same-process');
      return i.num_ack_pending === 0;
    });
    expect(runs).toBe(1);
  });

  it('hands a task running in another process back instead of running it twice, then reports its outcome', async () => {
    let runs = 0;
    const { gate, release } = released();
    const handle = async (): Promise<HandlerResult> => {
      runs++;
      await gate;
      return { cantidadEntidades: 7 };
    };
    await startWorker('two-processes', handle, { concurrency: 1, ackWaitMs: 1000, worker: 'test/a' });
    await startWorker('two-processes', handle, { concurrency: 1, ackWaitMs: 1000, worker: 'test/b' });
    const { taskId } = await publish('two-processes', 'tp1', { msgId: 'tp1-a' });
    await until(() => runs === 1);
    await publish('two-processes', 'tp1', { taskId, msgId: 'tp1-b' });
    // The other worker takes the copy, sees a live run elsewhere and hands it back (more than once, by now).
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_two-processes');
      return i.num_redelivered > 0 || i.delivered.consumer_seq >= 3;
    });
    release();
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_two-processes');
      return i.num_ack_pending === 0 && i.num_pending === 0;
    });
    expect(runs).toBe(1);
    const succeeded = await events('succeeded', taskId);
    expect(succeeded).toHaveLength(1);
    expect(Number(fromBinary(TaskSucceededSchema, succeeded[0]!.data).cantidadEntidades)).toBe(7);
  });

  it('takes over a task whose process died as soon as its claim goes stale, not a whole ack wait later', async () => {
    // A process claimed the task and was killed: its record says `running`, its last heartbeat 10 s ago. With a
    // 10 s ack wait the claim goes stale at 10 s + one heartbeat (3.3 s); handing the delivery back for a whole
    // ack wait instead ran it only ~10 s later (and two ack waits after the kill in production).
    const ackWaitMs = 10_000;
    const taskId = uuidv7();
    const { outcomes } = await openRunnerBuckets(t.handles.js, t.names);
    const dead: TaskOutcomeRecord = {
      attempt: 1,
      run: 'run-of-the-killed-process',
      worker: 'test/killed',
      state: 'running',
      at: new Date(Date.now() - ackWaitMs).toISOString(),
    };
    await outcomes.create(taskId, JSON.stringify(dead));
    let ranAt = 0;
    await startWorker(
      'takeover',
      async () => {
        ranAt = Date.now();
      },
      { concurrency: 1, ackWaitMs },
    );
    const publishedAt = Date.now();
    await publish('takeover', 'to1', { taskId });
    await waitFor(async () => (await events('succeeded', taskId)).length === 1, { timeoutMs: 20_000 });
    expect(ranAt - publishedAt).toBeLessThan(7_000);
    // The killed run used up its attempt: this is the second.
    expect((await readTaskOutcome(outcomes, taskId))?.record.attempt).toBe(2);
  }, 30_000);

  it('does not count a failed publish of succeeded as a failure: the next delivery reports it, not re-runs it', async () => {
    let runs = 0;
    const evt = t.names.streams.evt;
    const cfg = (await t.handles.jsm.streams.info(evt)).config;
    // A stream that stores every event but `succeeded`: its publish fails like a publish during an outage.
    const withoutSucceeded = ['started', 'progress', 'failed', 'skipped']
      .map((e) => t.names.evt('task', e))
      .concat([t.names.full('lucy.evt.log.>'), t.names.full('lucy.evt.alumno.>')]);
    await startWorker(
      'publish-fails',
      async () => {
        runs++;
        await t.handles.jsm.streams.update(evt, { ...cfg, subjects: withoutSucceeded });
        return { cantidadEntidades: 3 };
      },
      // The last attempt: before, a settle error here dead-lettered work that was done.
      { maxAttempts: 1, ackWaitMs: 2000 },
    );
    const { taskId } = await publish('publish-fails', 'pf1');
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    await waitFor(async () => (await readTaskOutcome(outcomes, taskId))?.record.state === 'succeeded');
    // Let it fail to report at least once more, then bring the subject back.
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_publish-fails');
      return i.delivered.consumer_seq >= 2;
    });
    await t.handles.jsm.streams.update(evt, cfg);
    await waitFor(async () => (await events('succeeded', taskId)).length === 1);
    await waitFor(async () => {
      const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_publish-fails');
      return i.num_ack_pending === 0;
    });
    expect(runs).toBe(1);
    expect(await events('failed', taskId)).toHaveLength(0);
    expect((await t.handles.jsm.streams.info(t.names.streams.dlq)).state.messages).toBe(0);
    const ok = fromBinary(TaskSucceededSchema, (await events('succeeded', taskId))[0]!.data);
    expect(ok).toMatchObject({ attempt: 1, cantidadEntidades: 3n });
  });

  it('re-creates a deleted durable from its recorded position, never replaying the stream, and says so', async () => {
    const handled: string[] = [];
    const before = (await consumerRecreated.get()).values.find(
      (v) => v.labels.consumer === 'test_deleted',
    )?.value;
    await startWorker('deleted', async ({ message }) => {
      handled.push(message.alumnoId);
    });
    let last = 0;
    for (const a of ['d1', 'd2', 'd3']) last = (await publish('deleted', a)).seq;
    await until(() => handled.length === 3);
    const positions = await t.handles.kvm.open(t.names.buckets.positions);
    await waitFor(async () => ((await readConsumerPosition(positions, 'test_deleted')) ?? 0) >= last);
    await t.handles.jsm.consumers.delete(t.names.streams.cmd, 'test_deleted');
    await publish('deleted', 'd4');
    await waitFor(() => handled.includes('d4'), { timeoutMs: 20_000 });
    expect(handled).toEqual(['d1', 'd2', 'd3', 'd4']);
    const info = await t.handles.jsm.consumers.info(t.names.streams.cmd, 'test_deleted');
    expect(info.config.opt_start_seq).toBe(last + 1);
    const warnings = (
      await readStream(t.handles, t.names.streams.evt, t.names.full('lucy.evt.log.warning'))
    ).map((m) => fromBinary(LogEventSchema, m.data));
    expect(
      warnings.some((w) => w.message.includes('test_deleted') && w.message.includes(`${last + 1}`)),
    ).toBe(true);
    const after = (await consumerRecreated.get()).values.find(
      (v) => v.labels.consumer === 'test_deleted',
    )?.value;
    expect((after ?? 0) - (before ?? 0)).toBe(1);
  }, 30_000);

  it('hands a task interrupted by stop() back on its last attempt: not failed, not dead-lettered, run again', async () => {
    let runs = 0;
    const first = await startWorker(
      'stopping',
      async ({ signal }) => {
        runs++;
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new TransientError('el worker se detiene'))),
        );
      },
      { maxAttempts: 1, worker: 'test/stopping-1' },
    );
    const { taskId } = await publish('stopping', 'st1');
    await until(() => runs === 1);
    await first.stop();
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    expect((await readTaskOutcome(outcomes, taskId))?.record).toMatchObject({
      state: 'interrupted',
      attempt: 1,
    });
    await startWorker(
      'stopping',
      async () => {
        runs++;
      },
      { maxAttempts: 1, worker: 'test/stopping-2' },
    );
    await waitFor(async () => (await events('succeeded', taskId)).length === 1);
    expect(runs).toBe(2);
    expect(await events('failed', taskId)).toHaveLength(0);
    expect((await t.handles.jsm.streams.info(t.names.streams.dlq)).state.messages).toBe(0);
    const attempts = (await events('started', taskId)).map(
      (m) => fromBinary(TaskStartedSchema, m.data).attempt,
    );
    // Both runs are stored (each run has its own message ids) and both are attempt 1.
    expect(attempts).toEqual([1, 1]);
  });

  it('hands back a handler that outlives the drain timeout without failing the task', async () => {
    const { gate, release } = released();
    let runs = 0;
    const w = await startWorker(
      'drain',
      async () => {
        runs++;
        await gate;
      },
      { maxAttempts: 1, drainTimeoutMs: 200, worker: 'test/drain-1' },
    );
    const { taskId } = await publish('drain', 'dr1');
    await until(() => runs === 1);
    await w.stop();
    release();
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    expect((await readTaskOutcome(outcomes, taskId))?.record.state).toBe('interrupted');
    await startWorker('drain', async () => undefined, { maxAttempts: 1, worker: 'test/drain-2' });
    await waitFor(async () => (await events('succeeded', taskId)).length === 1);
    expect(await events('failed', taskId)).toHaveLength(0);
  });

  it('keeps the derived task id on the dead letter of a command published without Lucy-Task-Id', async () => {
    await startWorker('no-task-id', async () => undefined);
    const h = natsHeaders();
    h.set(H.contentType, CONTENT_TYPE.protobuf);
    const ack = await t.handles.js.publish(
      t.names.full(subjectOf('no-task-id')),
      new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]),
      { headers: h },
    );
    const dead = await waitFor(async () => {
      const all = await readStream(t.handles, t.names.streams.dlq);
      return all.find((m) => m.header(H.dlqSequence) === String(ack.seq));
    });
    const stored = await t.handles.jsm.streams.getMessage(t.names.streams.cmd, { seq: ack.seq });
    const derived = taskIdFromDelivery(t.names.streams.cmd, ack.seq, stored!.time.getTime());
    expect(dead.header(H.taskId)).toBe(derived);
    const failed = await events('failed', derived);
    expect(failed).toHaveLength(1);
    expect(fromBinary(TaskFailedSchema, failed[0]!.data).taskId).toBe(derived);
  });
});
