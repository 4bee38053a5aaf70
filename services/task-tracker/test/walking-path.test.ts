import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_TYPE, createCommandPublisher, H, type CommandPublisher } from '@lucy/platform';
import { PurgarTareasCommandSchema } from '@lucy/proto';
import { waitFor } from '@lucy/testkit';
import { rows, startHarness, type TrackerHarness } from './helpers.js';

const SUBJECT = 'lucy.cmd.tracker.purgar_tareas';
const TASK = 'mantenimiento.tasks.purgar_tareas_antiguas';

describe('walking path: a command becomes a Tarea that goes pending → running → completed', () => {
  let h: TrackerHarness;
  let pub: CommandPublisher;

  beforeAll(async () => {
    h = await startHarness();
    pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
  });
  afterAll(async () => {
    await h?.close();
  });

  const tarea = async (id: string) =>
    (
      await rows<Record<string, unknown>>(
        h,
        `select * from tracker.tarea where id = ?::uuid and version > 0`,
        [id],
      )
    )[0];
  const timeline = async (id: string) =>
    (
      await rows<{ kind: string }>(
        h,
        `select kind from tracker.tarea_event where task_id = ?::uuid order by occurred_at, id`,
        [id],
      )
    ).map((r) => r.kind);

  for (const contentType of [CONTENT_TYPE.protobuf, CONTENT_TYPE.json]) {
    it(`projects a ${contentType} PurgarTareasCommand through its whole lifecycle`, async () => {
      const { taskId } = await pub.publish(
        SUBJECT,
        PurgarTareasCommandSchema,
        { retentionDays: 30, batchSize: 100 },
        {
          taskType: TASK,
          requestedBy: 'ana@fce',
          trigger: 'admin',
          contentType,
        },
      );
      const done = await waitFor(
        async () => {
          const t = await tarea(taskId);
          return t?.estado === 'completed' ? t : undefined;
        },
        { what: 'completed Tarea', timeoutMs: 15_000 },
      );
      expect(done).toMatchObject({
        tipo: 'mantenimiento',
        task_name: TASK,
        trigger: 'admin',
        requested_by: 'ana@fce',
        subject: SUBJECT,
        attempts: 1,
        parametros: { retentionDays: 30, batchSize: 100 },
        content_type: contentType,
        detalles: { tareas_eliminadas: 0, logs_eliminados: 0, retencion_dias: 30 },
      });
      expect(done.started_at).toBeTruthy();
      expect(done.finished_at).toBeTruthy();
      // The intermediate states, in order, as the timeline recorded them.
      expect(await timeline(taskId)).toEqual(['published', 'started', 'succeeded']);
      const counters = await rows<{ estado: string; n: string }>(
        h,
        `select estado, sum(count)::int as n from tracker.tarea_hourly_count group by estado`,
      );
      expect(counters.find((c) => c.estado === 'pending')?.n ?? 0).toBe(0);
    });
  }

  it('dead-letters garbage and an invalid JSON command with a readable reason, fails their Tareas and keeps serving', async () => {
    const garbage = await pub.publishRaw(
      SUBJECT,
      new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]),
      CONTENT_TYPE.protobuf,
      {
        taskType: TASK,
        requestedBy: 'otro-sistema',
        trigger: 'external',
      },
    );
    const invalid = await pub.publishRaw(
      SUBJECT,
      new TextEncoder().encode('{"retentionDays": "noventa"}'),
      CONTENT_TYPE.json,
      {
        taskType: TASK,
        requestedBy: 'otro-sistema',
        trigger: 'external',
      },
    );
    for (const { taskId } of [garbage, invalid]) {
      const t = await waitFor(
        async () => {
          const r = await tarea(taskId);
          // The worker's `failed` may be projected before the command itself (another consumer): wait for both.
          return r?.estado === 'failed' && r.command_seen ? r : undefined;
        },
        { what: `failed Tarea ${taskId}`, timeoutMs: 15_000 },
      );
      expect(String(t.mensaje_error)).toMatch(/^Comando indescifrable: invalid (protobuf|JSON)/);
      expect(t.parametros).toBeNull();
      expect(t.tipo).toBe('mantenimiento');
    }
    const dlq = await waitFor(
      async () => {
        const info = await h.nats.handles.jsm.streams.info(h.nats.names.streams.dlq);
        return info.state.messages >= 2 ? info : undefined;
      },
      { what: 'two dead letters' },
    );
    const reasons: string[] = [];
    for (let seq = dlq.state.first_seq; seq <= dlq.state.last_seq; seq++) {
      const m = await h.nats.handles.jsm.streams.getMessage(h.nats.names.streams.dlq, { seq });
      reasons.push(m!.header.get(H.dlqReason));
      expect(m!.header.get(H.dlqSubject)).toBe(SUBJECT);
    }
    expect(reasons.some((r) => r.startsWith('undecodable: invalid protobuf'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('undecodable: invalid JSON'))).toBe(true);

    const { taskId } = await pub.publish(
      SUBJECT,
      PurgarTareasCommandSchema,
      {},
      { taskType: TASK, requestedBy: 'beat', trigger: 'schedule' },
    );
    await waitFor(async () => (await tarea(taskId))?.estado === 'completed', {
      what: 'still serving',
      timeoutMs: 15_000,
    });
  });
});
