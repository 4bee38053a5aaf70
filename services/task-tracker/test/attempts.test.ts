import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { create, toBinary } from '@bufbuild/protobuf';
import { CONTENT_TYPE, createCommandPublisher, createRpcClient, H } from '@lucy/platform';
import {
  CrearUsuarioTeamsCommandSchema,
  LogLevel,
  PurgarTareasCommandSchema,
  TareaEstado,
  TaskService,
  Trigger,
} from '@lucy/proto';
import { TEST_TOKEN, waitFor } from '@lucy/testkit';
import { trackerMetrics } from '../src/metrics.js';
import { reporterFor, rows, startHarness, type TrackerHarness } from './helpers.js';

/** `lucy_tracker_tareas_ended_total` and `lucy_tracker_attempts_ended_total` of tipo crear_usuario_teams. */
async function endedCounts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await trackerMetrics.tareasEnded.get()).values)
    if (v.labels.tipo === 'crear_usuario_teams') out[`tarea/${v.labels.estado}`] = v.value;
  for (const v of (await trackerMetrics.attemptsEnded.get()).values)
    if (v.labels.tipo === 'crear_usuario_teams') out[`attempt/${v.labels.outcome}`] = v.value;
  return out;
}

/** A Tarea that failed three times (two retries, then for good), told truly (issue 18). */
describe('a Tarea over several attempts', () => {
  let h: TrackerHarness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('starts at attempt 1, lasts across every attempt, shows each in the timeline and each failure as a Log row', async () => {
    const before = await endedCounts();
    const { taskId } = await createCommandPublisher(h.nats.handles.js, h.nats.names).publish(
      'lucy.cmd.identity.crear_usuario_teams',
      CrearUsuarioTeamsCommandSchema,
      { alumnoId: 'DNI-40111222' },
      { taskType: 'alumnos.tasks.crear_usuario_teams_async', requestedBy: 'ana@fce', trigger: 'admin' },
    );
    const base = Date.now();
    const at = (s: number) => () => new Date(base + s * 1000);
    // Attempt 1: 0 s → 3 s, retried in 4 s; attempt 2: 7 s → 10 s, retried in 16 s; attempt 3: 26 s → 47 s, final.
    const a1 = reporterFor(h, taskId, { attempt: 1, clock: at(0) });
    await a1.started('DNI-40111222');
    await reporterFor(h, taskId, { attempt: 1, clock: at(3) }).failed('Graph no responde', {
      willRetry: true,
      code: 'GRAPH_TIMEOUT',
      retryInMs: 4000,
    });
    await reporterFor(h, taskId, { attempt: 2, clock: at(7) }).started();
    const f2 = reporterFor(h, taskId, { attempt: 2, clock: at(10) });
    await f2.failed('Graph no responde', { willRetry: true, code: 'GRAPH_TIMEOUT', retryInMs: 16_000 });
    // A redelivered event adds no second Log row.
    await f2.failed('Graph no responde', { willRetry: true, code: 'GRAPH_TIMEOUT', retryInMs: 16_000 });
    await reporterFor(h, taskId, { attempt: 3, clock: at(26) }).started();
    await reporterFor(h, taskId, { attempt: 3, clock: at(47) }).failed('Graph rechazó la licencia', {
      willRetry: false,
      code: 'GRAPH_LICENSE',
    });

    await waitFor(
      async () =>
        (
          await rows<{ estado: string; n: string }>(
            h,
            `select t.estado, (select count(*) from tracker.log l where l.task_id = t.id) as n
               from tracker.tarea t where t.id = ?`,
            [taskId],
          )
        ).find((r) => r.estado === 'failed' && Number(r.n) >= 3),
      { timeoutMs: 30_000, what: 'the failed Tarea and its Logs' },
    );
    const client = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    const { tarea, timeline, logs } = await client.getTarea({ id: taskId });
    expect(tarea!.attempts).toBe(3);
    expect(timestampDate(tarea!.startedAt!).getTime()).toBe(base);
    expect(Number(tarea!.durationMs)).toBe(47_000);

    const attemptsShown = timeline.filter((e) => e.kind === 'started').map((e) => e.message);
    expect(attemptsShown).toEqual(['Intento 1 iniciado', 'Intento 2 iniciado', 'Intento 3 iniciado']);
    expect(timeline.find((e) => e.kind === 'failed' && e.attempt === 1)!.message).toBe(
      'Falló; se reintentará en 4 s: Graph no responde',
    );

    const mine = logs.filter((l) => l.module === 'tasks');
    expect(mine.map((l) => [LogLevel[l.level], l.message])).toEqual([
      ['WARNING', 'Intento 1 falló: Graph no responde. Se reintentará en 4 s (intento 2).'],
      ['WARNING', 'Intento 2 falló: Graph no responde. Se reintentará en 16 s (intento 3).'],
      ['ERROR', 'La tarea falló tras 3 intentos: Graph rechazó la licencia'],
    ]);
    expect(mine.every((l) => l.alumnoId === 'DNI-40111222')).toBe(true);

    // Task and attempt metrics apart: one Tarea failed, after two retried attempts and a failed last one.
    const after = await endedCounts();
    const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    expect(delta('tarea/failed')).toBe(1);
    expect(delta('attempt/retried')).toBe(2);
    expect(delta('attempt/failed')).toBe(1);
    expect(delta('attempt/succeeded')).toBe(0);
  }, 60_000);
  it('tells a scheduled Tarea (and its periodic task) from a manual one in the list and the detail', async () => {
    const publisher = createCommandPublisher(h.nats.handles.js, h.nats.names);
    const data = toBinary(
      PurgarTareasCommandSchema,
      create(PurgarTareasCommandSchema, { retentionDays: 90 }),
    );
    const scheduled = publisher.prepare('lucy.cmd.tracker.purgar_tareas', data, CONTENT_TYPE.protobuf, {
      taskType: 'mantenimiento.tasks.purgar_tareas_antiguas',
      requestedBy: 'scheduler',
      trigger: 'schedule',
      msgId: `periodic@${new Date().toISOString()}`,
    });
    scheduled.headers.set(H.periodicTask, 'Limpieza diaria de Tareas antiguas');
    await publisher.publishPrepared([scheduled]);
    const manual = await publisher.publish(
      'lucy.cmd.tracker.purgar_tareas',
      PurgarTareasCommandSchema,
      { retentionDays: 90 },
      { taskType: 'mantenimiento.tasks.purgar_tareas_antiguas', requestedBy: 'ana@fce', trigger: 'admin' },
    );
    const client = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    const list = await waitFor(
      async () => {
        const { tareas } = await client.listTareas({ page: { pageSize: 50 } });
        const ids = tareas.map((t) => t.id);
        return ids.includes(scheduled.taskId) && ids.includes(manual.taskId) ? tareas : undefined;
      },
      { timeoutMs: 30_000, what: 'both Tareas listed' },
    );
    expect(list.find((t) => t.id === scheduled.taskId)).toMatchObject({
      trigger: Trigger.SCHEDULE,
      requestedBy: 'scheduler',
      periodicTask: 'Limpieza diaria de Tareas antiguas',
    });
    expect(list.find((t) => t.id === manual.taskId)).toMatchObject({
      trigger: Trigger.ADMIN,
      requestedBy: 'ana@fce',
      periodicTask: '',
    });
    const { tarea } = await client.getTarea({ id: scheduled.taskId });
    expect(tarea!.periodicTask).toBe('Limpieza diaria de Tareas antiguas');
  }, 60_000);

  it('writes one INFO Log row with the reason of a skipped Tarea, however often its event is delivered', async () => {
    const { taskId } = await createCommandPublisher(h.nats.handles.js, h.nats.names).publish(
      'lucy.cmd.identity.crear_usuario_teams',
      CrearUsuarioTeamsCommandSchema,
      { alumnoId: 'DNI-40111333' },
      { taskType: 'alumnos.tasks.crear_usuario_teams_async', requestedBy: 'ana@fce', trigger: 'admin' },
    );
    const r = reporterFor(h, taskId, { attempt: 1 });
    await r.started('DNI-40111333');
    await r.skipped('La cuenta test-a40111333@x.edu.ar ya existe', { motivo: 'ya_activa' });
    await r.skipped('La cuenta test-a40111333@x.edu.ar ya existe', { motivo: 'ya_activa' });
    const client = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    const logs = await waitFor(
      async () => {
        const got = await client.getTarea({ id: taskId });
        return got.tarea?.estado === TareaEstado.SKIPPED && got.logs.some((l) => l.module === 'tasks')
          ? got.logs
          : undefined;
      },
      { timeoutMs: 30_000, what: 'the skipped Tarea and its Log' },
    );
    const mine = logs.filter((l) => l.module === 'tasks');
    expect(mine.map((l) => [LogLevel[l.level], l.message])).toEqual([
      ['INFO', 'Tarea omitida: La cuenta test-a40111333@x.edu.ar ya existe'],
    ]);
    expect(mine[0]!.alumnoId).toBe('DNI-40111333');
    expect(mine[0]!.detalles).toMatchObject({ intento: 1, motivo: 'ya_activa' });
  }, 60_000);
});
