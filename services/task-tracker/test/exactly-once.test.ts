import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knex as createKnex, type Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  createCommandPublisher,
  createRpcClient,
  H,
  newTraceparent,
  readConsumerPosition,
  taskHeaders,
  taskIdFromDelivery,
  uuidv7,
} from '@lucy/platform';
import { CrearUsuarioTeamsCommandSchema, TaskService } from '@lucy/proto';
import { createCuttableProxy, TEST_TOKEN, waitFor, type CuttableProxy } from '@lucy/testkit';
import { projectBatch, type TareaFact } from '../src/db/tarea.repository.js';
import type { TareaEvent } from '../src/domain/projection.js';
import { reporterFor, rows, startHarness, type TrackerHarness } from './helpers.js';

const CREAR = 'lucy.cmd.identity.crear_usuario_teams';
const CREAR_TASK = 'alumnos.tasks.crear_usuario_teams_async';

async function publishCrear(h: TrackerHarness, alumnoId: string): Promise<string> {
  const { taskId } = await createCommandPublisher(h.nats.handles.js, h.nats.names).publish(
    CREAR,
    CrearUsuarioTeamsCommandSchema,
    { alumnoId },
    { taskType: CREAR_TASK, requestedBy: 'ana@fce', trigger: 'admin' },
  );
  await waitFor(
    async () => (await rows(h, `select 1 from tracker.tarea where id = ? and version > 0`, [taskId])).length,
    { what: 'pending Tarea' },
  );
  return taskId;
}

const estadoOf = async (h: TrackerHarness, id: string) =>
  (await rows<{ estado: string }>(h, `select estado from tracker.tarea where id = ?`, [id]))[0]?.estado;

/** A transaction of the test's own (straight to Postgres) that holds a Tarea's row lock until released. */
async function lockRow(
  h: TrackerHarness,
  id: string,
): Promise<{ trx: Knex.Transaction; release(): Promise<void> }> {
  const k = createKnex({ client: 'pg', connection: h.db.url, pool: { min: 0, max: 1 } });
  const trx = await k.transaction();
  await trx.raw(`select 1 from tracker.tarea where id = ? for update`, [id]);
  return {
    trx,
    async release() {
      await trx.commit();
      await k.destroy();
    },
  };
}

describe('projection: poison means poison (issue 24, item 2)', () => {
  let h: TrackerHarness;
  let proxy: CuttableProxy;

  beforeAll(async () => {
    proxy = await createCuttableProxy('127.0.0.1', 5432);
    h = await startHarness({
      databaseUrl: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(proxy.port);
        return u.toString();
      },
      projection: { statementTimeoutMs: 400, backoffMs: () => 50, maxPoisonDeliveries: 3 },
    });
  });
  afterAll(async () => {
    proxy?.restore();
    await h?.close();
    await proxy?.close();
  });

  const dlqCount = async () =>
    (await h.nats.handles.jsm.streams.info(h.nats.names.streams.dlq)).state.messages;
  const deliveries = async () =>
    (await h.nats.handles.jsm.consumers.info(h.nats.names.streams.evt, 'task-tracker_task-events')).delivered
      .consumer_seq;

  it('does not dead-letter a good event that fails once after a database outage inflated its delivery count', async () => {
    const taskId = await publishCrear(h, 'alu-outage');
    const lock = await lockRow(h, taskId);
    try {
      proxy.cut();
      const r = reporterFor(h, taskId);
      await r.started();
      await r.succeeded(1);
      const base = await deliveries();
      // Every nak of the outage is a delivery: JetStream's count passes the poison limit without the event being
      // at fault.
      await waitFor(async () => (await deliveries()) - base >= 12, {
        what: 'deliveries during the outage',
        timeoutMs: 20_000,
      });
      const failuresAlone = h.tracker.consumers.events.stats.soloFailures;
      proxy.restore();
      // Now each event fails alone once: its transaction waits on our lock until Postgres cancels it.
      await waitFor(() => h.tracker.consumers.events.stats.soloFailures > failuresAlone, {
        what: 'a failure of an event alone',
        timeoutMs: 15_000,
      });
      // The cancelled transaction applied nothing.
      const seen = await lock.trx.raw<{ rows: Array<{ estado: string }> }>(
        `select estado from tracker.tarea where id = ?`,
        [taskId],
      );
      expect(seen.rows[0]?.estado).toBe('pending');
    } finally {
      proxy.restore();
      await lock.release();
    }
    await waitFor(async () => (await estadoOf(h, taskId)) === 'completed', {
      what: 'completed after the outage',
      timeoutMs: 15_000,
    });
    expect(await dlqCount()).toBe(0);
  }, 60_000);

  it('dead-letters an event that fails alone every time, and a cancelled transaction never applies it later', async () => {
    const taskId = await publishCrear(h, 'alu-poison');
    const lock = await lockRow(h, taskId);
    const before = await dlqCount();
    try {
      await reporterFor(h, taskId).succeeded(1);
      await waitFor(async () => (await dlqCount()) > before, {
        what: 'poison dead-lettered',
        timeoutMs: 15_000,
      });
    } finally {
      await lock.release();
    }
    // A later event of the same Tarea is applied; the dead-lettered `succeeded` never is.
    await reporterFor(h, taskId).started();
    await waitFor(async () => (await estadoOf(h, taskId)) === 'running', { what: 'later event applied' });
    const timeline = await rows<{ kind: string }>(
      h,
      `select kind from tracker.tarea_event where task_id = ? order by id`,
      [taskId],
    );
    expect(timeline.map((e) => e.kind)).not.toContain('succeeded');
    expect(await dlqCount()).toBe(before + 1);
  }, 30_000);
});

describe('dashboard, dead letters and order independence against the real stack (issue 24, items 4, 5, 7, 8)', () => {
  let h: TrackerHarness;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  // Half past the hour, so an hourly bucket edge and the exact 24 h edge differ by 30 min.
  const NOW = new Date('2026-12-07T15:30:00.000Z');
  let useFixedClock = false;

  beforeAll(async () => {
    h = await startHarness({ clock: () => (useFixedClock ? NOW : new Date()) });
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  const ago = (hours: number, seconds = 0) => new Date(NOW.getTime() - hours * 3_600_000 - seconds * 1000);
  function finishedTarea(publishedAt: Date, finishedAt: Date, outcome: 'succeeded' | 'failed'): TareaFact[] {
    const taskId = uuidv7(publishedAt.getTime());
    const published: TareaEvent = {
      kind: 'published',
      taskId,
      at: publishedAt,
      tipo: 'cuenta',
      subject: CREAR,
      parametros: {},
      payload: new Uint8Array(),
      contentType: CONTENT_TYPE.protobuf,
      taskName: CREAR_TASK,
    };
    const end: TareaEvent =
      outcome === 'succeeded'
        ? { kind: 'succeeded', taskId, at: finishedAt, attempt: 1, cantidadEntidades: 1, detalles: null }
        : {
            kind: 'failed',
            taskId,
            at: finishedAt,
            attempt: 1,
            mensajeError: 'no',
            willRetry: false,
            errorCode: 'X',
            detalles: null,
          };
    return [
      { seq: 0, event: published },
      { seq: 0, event: { kind: 'started', taskId, at: publishedAt, attempt: 1 } },
      { seq: 0, event: end },
    ];
  }

  it('counts completadas and fallidas (24 h) by finish time with an exact edge', async () => {
    const facts = [
      // Published in a backlog 30 h ago, finished 23 h ago: counted.
      ...finishedTarea(ago(30), ago(23), 'succeeded'),
      // Finished 25 h ago: not counted.
      ...finishedTarea(ago(26), ago(25), 'succeeded'),
      // Published 24 h 20 min ago (inside the old hourly window), finished 24 h 10 min ago: not counted.
      ...finishedTarea(ago(24, 20 * 60), ago(24, 10 * 60), 'succeeded'),
      // One second inside the edge: counted.
      ...finishedTarea(ago(48), ago(24, -1), 'succeeded'),
      // One second outside the edge: not counted.
      ...finishedTarea(ago(48), ago(24, 1), 'failed'),
      // A failure an hour ago of a Tarea published 40 h ago: counted.
      ...finishedTarea(ago(40), ago(1), 'failed'),
      ...finishedTarea(ago(3), ago(2), 'succeeded'),
    ];
    await projectBatch(h.tracker.knex, facts);
    useFixedClock = true;
    try {
      const d = await tasks.getDashboard({});
      expect({ completadas: d.completadas24h, fallidas: d.fallidas24h }).toEqual({
        completadas: 3n,
        fallidas: 1n,
      });
    } finally {
      useFixedClock = false;
    }
  });

  it('keeps the derived task id on the dead letter of a command without Lucy-Task-Id, and re-drives it as its child', async () => {
    // Another system's command: task headers but no Lucy-Task-Id.
    const h2 = taskHeaders(
      {
        taskId: 'x',
        taskType: 'mantenimiento.tasks.purgar_tareas_antiguas',
        requestedBy: 'otro-sistema',
        trigger: 'external',
        traceparent: newTraceparent(),
      },
      CONTENT_TYPE.json,
    );
    h2.delete(H.taskId);
    const ack = await h.nats.handles.js.publish(
      h.nats.names.full('lucy.cmd.tracker.purgar_tareas'),
      new TextEncoder().encode('{"nada": 1}'),
      { headers: h2 },
    );
    const stored = await h.nats.handles.jsm.streams.getMessage(h.nats.names.streams.cmd, { seq: ack.seq });
    const derived = taskIdFromDelivery(h.nats.names.streams.cmd, ack.seq, stored!.time.getTime());
    const dl = await waitFor(
      async () => (await tasks.listDeadLetters({})).deadLetters.find((d) => d.taskId === derived),
      { what: 'dead letter with the derived task id', timeoutMs: 15_000 },
    );
    await waitFor(async () => (await estadoOf(h, derived)) === 'failed', { what: 'its Tarea failed' });
    const res = await tasks.redriveDeadLetters({ sequences: [dl.sequence], requestedBy: 'ana@fce' });
    expect(res.results[0]?.ok).toBe(true);
    const child = await waitFor(
      async () =>
        (await rows<{ id: string }>(h, `select id from tracker.tarea where parent_id = ?`, [derived]))[0],
      { what: 're-driven Tarea linked to the original' },
    );
    const got = await tasks.getTarea({ id: child.id });
    expect(got.tarea?.parentId).toBe(derived);
  });

  it('re-creates a deleted projection durable just after its recorded position, not from the stream start', async () => {
    const first = await publishCrear(h, 'alu-durable-1');
    const seq = (await h.nats.handles.jsm.streams.info(h.nats.names.streams.cmd)).state.last_seq;
    const positions = await h.nats.handles.kvm.open(h.nats.names.buckets.positions);
    await waitFor(
      async () => ((await readConsumerPosition(positions, 'task-tracker_commands')) ?? 0) >= seq,
      { what: 'position recorded' },
    );
    const recorded = (await readConsumerPosition(positions, 'task-tracker_commands'))!;
    await h.nats.handles.jsm.consumers.delete(h.nats.names.streams.cmd, 'task-tracker_commands');
    const second = await publishCrear(h, 'alu-durable-2');
    const info = await h.nats.handles.jsm.consumers.info(h.nats.names.streams.cmd, 'task-tracker_commands');
    expect(info.config.deliver_policy).toBe('by_start_sequence');
    expect(info.config.opt_start_seq).toBe(recorded + 1);
    // Only what came after the position was delivered, not the stream's history.
    const last = (await h.nats.handles.jsm.streams.info(h.nats.names.streams.cmd)).state.last_seq;
    expect(info.delivered.consumer_seq).toBe(last - recorded);
    expect(await estadoOf(h, first)).toBe('pending');
    expect(await estadoOf(h, second)).toBe('pending');
  }, 30_000);

  it('projects every permutation (with duplicates, in random batches) of a Tarea’s events to the same row', async () => {
    const history = (taskId: string): TareaEvent[] => {
      const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s));
      const ctx = { taskName: CREAR_TASK, trigger: 'admin', requestedBy: 'ana@fce' };
      return [
        {
          kind: 'published',
          taskId,
          at: at(0),
          tipo: 'cuenta',
          subject: CREAR,
          alumnoId: 'alu-perm',
          parametros: { alumnoId: 'alu-perm' },
          payload: new Uint8Array([1]),
          contentType: CONTENT_TYPE.protobuf,
          ...ctx,
        },
        { kind: 'started', taskId, at: at(1), attempt: 1, ...ctx },
        { kind: 'progress', taskId, at: at(2), attempt: 1, heartbeat: false, done: 4, total: 9, ...ctx },
        { kind: 'progress', taskId, at: at(3), attempt: 1, heartbeat: true, done: 0, total: 0, ...ctx },
        {
          kind: 'failed',
          taskId,
          at: at(4),
          attempt: 1,
          mensajeError: 'Graph no responde',
          willRetry: true,
          errorCode: 'T',
          detalles: null,
          ...ctx,
        },
        { kind: 'started', taskId, at: at(6), attempt: 2, ...ctx },
        { kind: 'progress', taskId, at: at(8), attempt: 2, heartbeat: false, done: 2, total: 9, ...ctx },
        {
          kind: 'succeeded',
          taskId,
          at: at(16),
          attempt: 2,
          cantidadEntidades: 1,
          detalles: { ok: true },
          ...ctx,
        },
      ];
    };
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const ids: string[] = [];
    for (let run = 0; run < 12; run++) {
      const id = uuidv7();
      ids.push(id);
      const events = history(id);
      const order = [...events, ...events.filter(() => random() < 0.3)];
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      // Random batch boundaries, as several replicas or a redelivered batch would apply them.
      while (order.length > 0) {
        const n = 1 + Math.floor(random() * 3);
        await projectBatch(
          h.tracker.knex,
          order.splice(0, n).map((event, k) => ({ seq: 1000 + k, event })),
        );
      }
    }
    const projected = await rows<Record<string, unknown>>(
      h,
      `select * from tracker.tarea where id = any(?::uuid[])`,
      [`{${ids.join(',')}}`],
    );
    expect(projected).toHaveLength(ids.length);
    const comparable = projected.map((r) => {
      const { id: _id, updated_at: _u, ...rest } = r;
      return JSON.stringify(rest);
    });
    expect(new Set(comparable).size).toBe(1);
    expect(projected[0]).toMatchObject({
      estado: 'completed',
      started_attempt: 2,
      // From attempt 1's start (1 s) to attempt 2's success (16 s): the duration covers every attempt.
      duration_ms: '15000',
      progress_done: '2',
      mensaje_error: null,
    });
  });
});
