import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import {
  EliminarCuentaExternaCommandSchema,
  TaskProgressSchema,
  TaskSkippedSchema,
  TaskStartedSchema,
} from '@lucy/proto';
import {
  createTestNats,
  readStream,
  testLogger,
  TEST_NATS_URL,
  waitFor,
  type TestNats,
} from '../../testkit/src/index.js';
import {
  connectNats,
  createCommandPublisher,
  createCommandWorker,
  createNames,
  provisionBuckets,
  provisionStreams,
  H,
  readTaskOutcome,
  TransientError,
  type CommandWorker,
  type CommandWorkerOptions,
  type NatsHandles,
} from '../src/index.js';

type Schema = typeof EliminarCuentaExternaCommandSchema;
type Options = CommandWorkerOptions<Schema>;

/**
 * Attacks on the consumer runner's exactly-once guarantees (session 4 review): short ack waits, replicas on one
 * durable (each on its own connection, as separate processes are), stop() in the middle of a batch, cancellations.
 */
describe('consumer runner under attack: never twice, never lost', () => {
  let t: TestNats;
  const workers: CommandWorker[] = [];
  const connections: NatsHandles[] = [];

  beforeAll(async () => {
    t = await createTestNats();
  });

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const c of connections) await c.nc.close().catch(() => undefined);
    await t.cleanup();
  });

  const subjectOf = (name: string) => `lucy.cmd.test.${name}`;

  /** A runner on a connection of its own, like a separate process. */
  async function startWorker(name: string, handle: Options['handle'], extra: Partial<Options> = {}) {
    const h = await connectNats({ NATS_URL: TEST_NATS_URL }, testLogger('nats'), `attack-${name}`);
    connections.push(h);
    const w = createCommandWorker({
      js: h.js,
      jsm: h.jsm,
      names: t.names,
      logger: testLogger(),
      durable: `attack_${name}`,
      subject: subjectOf(name),
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: `attack/${name}/${connections.length}`,
      backoffMs: () => 50,
      cancellations: t.buckets.cancellations,
      handle,
      ...extra,
    });
    workers.push(w);
    await w.start();
    return w;
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

  const settled = (name: string) =>
    waitFor(
      async () => {
        const i = await t.handles.jsm.consumers.info(t.names.streams.cmd, `attack_${name}`);
        return i.num_ack_pending === 0 && i.num_pending === 0;
      },
      { timeoutMs: 30_000, what: `consumer attack_${name} settled` },
    );

  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  it('two replicas on one durable, handlers three times the ack wait: every task runs once', async () => {
    const runs = new Map<string, number>();
    const handle: Options['handle'] = async ({ message }) => {
      count(runs, message.alumnoId);
      // Longer than the ack wait: only the runner's heartbeats keep the delivery alive.
      await new Promise((r) => setTimeout(r, 1500));
    };
    await startWorker('replicas', handle, { concurrency: 3, ackWaitMs: 500 });
    await startWorker('replicas', handle, { concurrency: 3, ackWaitMs: 500 });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await publish('replicas', `r${i}`)).taskId);
    // A copy of two tasks too (the publisher sending again under another id).
    await publish('replicas', 'r0', { taskId: ids[0]! });
    await publish('replicas', 'r1', { taskId: ids[1]! });
    await waitFor(
      async () => (await events('succeeded')).filter((m) => ids.includes(m.header(H.taskId)!)).length >= 8,
      {
        timeoutMs: 30_000,
      },
    );
    await settled('replicas');
    expect(runs.size).toBe(8);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    for (const id of ids) expect(await events('succeeded', id)).toHaveLength(1);
    const started = (await events('started')).filter((m) => ids.includes(m.header(H.taskId)!));
    expect(started.map((m) => fromBinary(TaskStartedSchema, m.data).attempt)).toEqual(Array(8).fill(1));
  }, 45_000);

  it('stop() in the middle of a batch: nothing lost, nothing run twice, no attempt used up', async () => {
    const runs = new Map<string, number>();
    const attempts: number[] = [];
    let stopping = false;
    const first = await startWorker(
      'midbatch',
      async ({ message, signal, attempt }) => {
        count(runs, message.alumnoId);
        attempts.push(attempt);
        if (!stopping) {
          // Held until stop(): the handler gives up as asked, and the task is handed back.
          await new Promise<void>((resolve, reject) => {
            signal.addEventListener('abort', () => reject(new Error('stopping')), { once: true });
          });
        }
      },
      { concurrency: 4, ackWaitMs: 1000, drainTimeoutMs: 5000 },
    );
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push((await publish('midbatch', `m${i}`)).taskId);
    await waitFor(() => first.inFlight() === 4);
    await first.stop();
    stopping = true;
    await startWorker(
      'midbatch',
      async ({ message, attempt }) => {
        count(runs, message.alumnoId);
        attempts.push(attempt);
      },
      { concurrency: 4, ackWaitMs: 1000 },
    );
    await waitFor(
      async () => (await events('succeeded')).filter((m) => ids.includes(m.header(H.taskId)!)).length >= 10,
      { timeoutMs: 30_000 },
    );
    await settled('midbatch');
    for (const id of ids) expect(await events('succeeded', id)).toHaveLength(1);
    // The four handed back ran twice by design (interrupted, then resumed); every other task ran once.
    expect([...runs.values()].filter((n) => n === 2)).toHaveLength(4);
    expect([...runs.values()].filter((n) => n === 1)).toHaveLength(6);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(await events('failed')).toHaveLength(0);
  }, 45_000);

  it('stop() while a batch pull is open and commands stream in: none lost, each completed once', async () => {
    const later = new Map<string, number>();
    const attempts: number[] = [];
    const first = await startWorker(
      'openpull',
      async ({ signal, attempt }) => {
        attempts.push(attempt);
        await new Promise<void>((_, reject) => {
          signal.addEventListener('abort', () => reject(new Error('stopping')), { once: true });
        });
      },
      { concurrency: 8, ackWaitMs: 1000, drainTimeoutMs: 5000 },
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await publish('openpull', `o${i}`)).taskId);
    // Three slots busy: the runner now has a pull for five open.
    await waitFor(() => first.inFlight() === 3);
    const burst = Array.from({ length: 12 }, (_, i) => publish('openpull', `p${i}`));
    const stopped = first.stop();
    ids.push(...(await Promise.all(burst)).map((p) => p.taskId));
    await stopped;
    await startWorker(
      'openpull',
      async ({ message, attempt }) => {
        count(later, message.alumnoId);
        attempts.push(attempt);
      },
      { concurrency: 8, ackWaitMs: 1000 },
    );
    await waitFor(
      async () => (await events('succeeded')).filter((m) => ids.includes(m.header(H.taskId)!)).length >= 15,
      { timeoutMs: 30_000 },
    );
    await settled('openpull');
    for (const id of ids) expect(await events('succeeded', id)).toHaveLength(1);
    expect(later.size).toBe(15);
    expect([...later.values()].every((n) => n === 1)).toBe(true);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect((await events('failed')).filter((m) => ids.includes(m.header(H.taskId)!))).toHaveLength(0);
  }, 45_000);

  it('a delivery stalled before its handler when stop() hands it back does not run after the hand-back', async () => {
    // The cancellation read of the runner goes through a TCP proxy that can hold traffic: the delivery is claimed,
    // then waits on NATS past the drain timeout, and stop() hands it back meanwhile.
    const held: Array<() => void> = [];
    let holding = false;
    const sockets = new Set<Socket>();
    const proxy = createServer((client) => {
      const upstream = tcpConnect(4222, '127.0.0.1');
      for (const so of [client, upstream]) {
        sockets.add(so);
        so.on('error', () => undefined);
      }
      client.on('data', (d) => (holding ? held.push(() => upstream.write(d)) : upstream.write(d)));
      upstream.pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    const slow = await connectNats(
      { NATS_URL: `nats://127.0.0.1:${port}` },
      testLogger('nats'),
      'attack-slow',
    );
    connections.push(slow);
    const slowCancellations = await slow.kvm.open(t.names.buckets.cancellations);
    const runsA: number[] = [];
    const runsB: number[] = [];
    try {
      const a = await startWorker(
        'stalled',
        async ({ attempt }) => {
          runsA.push(attempt);
        },
        { concurrency: 1, ackWaitMs: 1000, drainTimeoutMs: 300, cancellations: slowCancellations },
      );
      holding = true;
      const { taskId } = await publish('stalled', 's1');
      const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
      // Claimed, its cancellation read held on the way.
      await waitFor(async () => (await readTaskOutcome(outcomes, taskId))?.record.state === 'running');
      await a.stop();
      await startWorker(
        'stalled',
        async ({ attempt }) => {
          runsB.push(attempt);
        },
        { concurrency: 1, ackWaitMs: 1000 },
      );
      holding = false;
      held.splice(0).forEach((f) => f());
      await waitFor(async () => (await events('succeeded', taskId)).length === 1, { timeoutMs: 20_000 });
      await settled('stalled');
      expect(runsA).toEqual([]);
      expect(runsB).toEqual([1]);
      const started = await events('started', taskId);
      expect(started.map((m) => fromBinary(TaskStartedSchema, m.data).attempt)).toEqual([1]);
    } finally {
      holding = false;
      held.splice(0).forEach((f) => f());
      await slow.nc.close().catch(() => undefined);
      for (const so of sockets) so.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  }, 45_000);

  it('a run handed back by stop() sends no more heartbeats, though its handler ignores the signal', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let runsA = 0;
    let runsB = 0;
    const a = await startWorker(
      'zombie',
      async () => {
        runsA++;
        await gate; // ignores `signal`: still running when the drain timeout ends
      },
      { concurrency: 1, ackWaitMs: 600, drainTimeoutMs: 300 },
    );
    const { taskId } = await publish('zombie', 'z1');
    const heartbeats = async () =>
      (await events('progress', taskId)).filter((m) => fromBinary(TaskProgressSchema, m.data).heartbeat)
        .length;
    // Running long enough to have sent heartbeats.
    await waitFor(async () => runsA === 1 && (await heartbeats()) >= 1);
    await a.stop();
    try {
      await startWorker(
        'zombie',
        async () => {
          runsB++;
        },
        { concurrency: 1, ackWaitMs: 600 },
      );
      await waitFor(async () => (await events('succeeded', taskId)).length === 1, { timeoutMs: 20_000 });
      const after = await heartbeats();
      // Several heartbeat periods of the handed-back run (200 ms): none of them may send anything now.
      await new Promise((r) => setTimeout(r, 1000));
      expect(await heartbeats()).toBe(after);
      expect(runsB).toBe(1);
    } finally {
      release();
    }
    await waitFor(() => a.inFlight() === 0);
  }, 45_000);

  it('a task cancelled before its first delivery is skipped, recorded, and a copy re-reports the same skip', async () => {
    let runs = 0;
    await startWorker(
      'cancel-first',
      async () => {
        runs++;
      },
      { concurrency: 1 },
    );
    const taskId = 'tarea-cancelada-antes-0001';
    await t.buckets.cancellations.put(taskId, 'por el personal (prueba)');
    await publish('cancel-first', 'c1', { taskId });
    await waitFor(async () => (await events('skipped', taskId)).length === 1);
    await publish('cancel-first', 'c1', { taskId, msgId: `${taskId}-copia` });
    await settled('cancel-first');
    expect(runs).toBe(0);
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    expect((await readTaskOutcome(outcomes, taskId))?.record.state).toBe('skipped');
    expect(await events('skipped', taskId)).toHaveLength(1);
    expect(fromBinary(TaskSkippedSchema, (await events('skipped', taskId))[0]!.data).attempt).toBe(1);
  });

  it('a task cancelled after a failed attempt is recorded as skipped: a later copy re-reports, never a new skip', async () => {
    let runs = 0;
    const taskId = 'tarea-cancelada-despues-0001';
    await startWorker(
      'cancel-retry',
      async () => {
        runs++;
        // Staff cancel it while the first attempt runs; the attempt then fails and is retried.
        await t.buckets.cancellations.put(taskId, 'por el personal (prueba)');
        throw new TransientError('Graph no respondió');
      },
      { concurrency: 1 },
    );
    await publish('cancel-retry', 'c2', { taskId });
    await waitFor(async () => (await events('skipped', taskId)).length === 1);
    await settled('cancel-retry');
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    await waitFor(async () => (await readTaskOutcome(outcomes, taskId))?.record.state === 'skipped', {
      what: 'the skip recorded in the outcomes bucket',
    });
    // A copy of the task (or a redelivery after a lost ack) must report the recorded skip, not a new one.
    await publish('cancel-retry', 'c2', { taskId, msgId: `${taskId}-copia` });
    await settled('cancel-retry');
    expect(runs).toBe(1);
    expect(await events('skipped', taskId)).toHaveLength(1);
  });

  it('a durable left with a small max_deliver by an older config still gets every attempt and a dead letter', async () => {
    await t.handles.jsm.consumers.add(t.names.streams.cmd, {
      durable_name: 'attack_old-durable',
      filter_subject: t.names.full(subjectOf('old-durable')),
      ack_policy: AckPolicy.Explicit,
      max_deliver: 2,
    });
    let runs = 0;
    await startWorker(
      'old-durable',
      async () => {
        runs++;
        throw new TransientError('siempre falla');
      },
      { concurrency: 1, maxAttempts: 4, ackWaitMs: 1000 },
    );
    expect(
      (await t.handles.jsm.consumers.info(t.names.streams.cmd, 'attack_old-durable')).config.max_deliver,
    ).toBe(-1);
    const { taskId } = await publish('old-durable', 'od1');
    await waitFor(async () => (await events('failed', taskId)).length >= 4, { timeoutMs: 20_000 });
    await settled('old-durable');
    expect(runs).toBe(4);
    const dlq = await readStream(t.handles, t.names.streams.dlq);
    expect(dlq.filter((m) => m.header(H.taskId) === taskId)).toHaveLength(1);
  }, 30_000);

  it('max attempts reached: exactly maxAttempts runs, one dead letter, a later copy neither runs nor re-letters', async () => {
    let runs = 0;
    await startWorker(
      'max-attempts',
      async () => {
        runs++;
        throw new TransientError('siempre falla');
      },
      { concurrency: 2, maxAttempts: 3, ackWaitMs: 1000 },
    );
    const { taskId } = await publish('max-attempts', 'x1');
    const letters = async () =>
      (await readStream(t.handles, t.names.streams.dlq)).filter((m) => m.header(H.taskId) === taskId);
    await waitFor(async () => (await letters()).length >= 1, {
      timeoutMs: 20_000,
    });
    await settled('max-attempts');
    await publish('max-attempts', 'x1', { taskId, msgId: `${taskId}-copia` });
    await settled('max-attempts');
    expect(runs).toBe(3);
    expect(await letters()).toHaveLength(1);
    const outcomes = await t.handles.kvm.open(t.names.buckets.outcomes);
    expect((await readTaskOutcome(outcomes, taskId))?.record.state).toBe('dead_lettered');
  }, 30_000);
});

/**
 * Lost acks, for real: a nats-server 2.9 of the test's own where one user may publish anything but an ack
 * (`$JS.ACK.>`), so every ack (and nak) of a runner connected as it is lost on its way, as if the connection were
 * cut right after the handler. The redelivery must report the recorded outcome again, never run the task again.
 */
describe('consumer runner: a lost ack', () => {
  const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const handles: NatsHandles[] = [];
  const workers: CommandWorker[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lucy-lost-ack-'));
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port: p } = s.address() as { port: number };
        s.close(() => resolve(p));
      });
    });
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'server.conf'),
      [
        `port: ${port}`,
        'host: 127.0.0.1',
        `jetstream { store_dir: "${join(dir, 'js')}" }`,
        'authorization { users: [',
        '  { user: full, password: full }',
        '  { user: noack, password: noack, permissions: { publish: { allow: ">", deny: "$JS.ACK.>" } } }',
        '] }',
      ].join('\n'),
    );
    server = spawn(NATS_SERVER, ['-c', join(dir, 'server.conf')], { stdio: 'ignore' });
    await waitFor(
      async () => {
        const h = await connectNats(
          { NATS_URL: url, NATS_USER: 'full', NATS_PASSWORD: 'full' },
          testLogger('nats'),
          'probe',
        ).catch(() => undefined);
        if (h) await h.nc.close();
        return h !== undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'own nats-server' },
    );
  }, 60_000);

  afterAll(async () => {
    for (const w of workers) await w.stop().catch(() => undefined);
    for (const h of handles) await h.nc.close().catch(() => undefined);
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const as = async (user: 'full' | 'noack') => {
    const h = await connectNats(
      { NATS_URL: url, NATS_USER: user, NATS_PASSWORD: user },
      testLogger('nats'),
      user,
    );
    handles.push(h);
    return h;
  };

  it('reports the recorded outcome on every redelivery after lost acks, and runs the task once', async () => {
    const names = createNames('lostack_');
    const admin = await as('full');
    await provisionStreams(admin.jsm, names);
    await provisionBuckets(admin.kvm, names);
    const runs: number[] = [];
    const workerOn = async (h: NatsHandles, id: string) => {
      const w = createCommandWorker({
        js: h.js,
        jsm: h.jsm,
        names,
        logger: testLogger(),
        durable: 'lostack',
        subject: 'lucy.cmd.test.lostack',
        taskType: 'alumnos.tasks.eliminar_cuenta_externa',
        schema: EliminarCuentaExternaCommandSchema,
        worker: id,
        ackWaitMs: 700,
        handle: async ({ attempt }) => {
          runs.push(attempt);
          return { cantidadEntidades: 2 };
        },
      });
      workers.push(w);
      await w.start();
      return w;
    };
    const lossy = await workerOn(await as('noack'), 'lostack/a');
    const { taskId } = await createCommandPublisher(admin.js, names).publish(
      'lucy.cmd.test.lostack',
      EliminarCuentaExternaCommandSchema,
      { alumnoId: 'la1', upn: 'la1@x' },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'test', trigger: 'admin' },
    );
    const info = () => admin.jsm.consumers.info(names.streams.cmd, 'lostack');
    // Its acks never arrive: JetStream redelivers, more than once, to the same runner.
    await waitFor(async () => (await info()).delivered.consumer_seq >= 3, { timeoutMs: 20_000 });
    expect((await info()).num_ack_pending).toBe(1);
    await lossy.stop();
    // Another replica, whose acks do arrive, takes the next redelivery.
    await workerOn(await as('full'), 'lostack/b');
    await waitFor(async () => (await info()).num_ack_pending === 0, { timeoutMs: 20_000 });
    expect(runs).toEqual([1]);
    const succeeded = (await readStream(admin, names.streams.evt, names.evt('task', 'succeeded'))).filter(
      (m) => m.header(H.taskId) === taskId,
    );
    expect(succeeded).toHaveLength(1);
    expect(await readStream(admin, names.streams.evt, names.evt('task', 'failed'))).toHaveLength(0);
    expect(await readStream(admin, names.streams.evt, names.evt('task', 'started'))).toHaveLength(1);
  }, 60_000);
});
