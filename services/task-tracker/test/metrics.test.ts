import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandPublisher, createRpcClient, type CommandPublisher } from '@lucy/platform';
import {
  CrearUsuarioTeamsCommandSchema,
  PurgarTareasCommandSchema,
  TareaEstado,
  TaskService,
} from '@lucy/proto';
import { TEST_TOKEN, waitFor } from '@lucy/testkit';
import { reporterFor, seedOldTareas, startHarness, type TrackerHarness } from './helpers.js';

const CREAR = 'lucy.cmd.identity.crear_usuario_teams';
const CREAR_TASK = 'alumnos.tasks.crear_usuario_teams_async';
const PURGAR = 'lucy.cmd.tracker.purgar_tareas';
const PURGAR_TASK = 'mantenimiento.tasks.purgar_tareas_antiguas';

/** One sample of the tracker's `/metrics`: `name{labels}`, labels in any order; 0 when the series is absent. */
async function sample(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = m[2] ? m[2].split(',') : [];
    if (have.length === wanted.length && wanted.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

describe('task-tracker metrics on /metrics', () => {
  let h: TrackerHarness;
  let pub: CommandPublisher;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  let now: Date | undefined;
  const metric = (name: string, labels?: Record<string, string>) =>
    sample(h.tracker.rpc.metricsUrl!, name, labels);
  const commands = { consumer: 'task-tracker_commands' };
  const events = { consumer: 'task-tracker_task-events' };

  beforeAll(async () => {
    h = await startHarness({ clock: () => now ?? new Date() });
    pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('counts projected, ignored and undecodable messages, batches, lag, watchers, stuck and purged rows', async () => {
    const before = {
      projected: await metric('lucy_tracker_messages_total', { ...commands, outcome: 'projected' }),
      events: await metric('lucy_tracker_messages_total', { ...events, outcome: 'projected' }),
      ignored: await metric('lucy_tracker_messages_total', { ...events, outcome: 'ignored' }),
      undecodable: await metric('lucy_tracker_messages_total', { ...events, outcome: 'undecodable' }),
      batches: await metric('lucy_tracker_batch_seconds_count', commands),
      lag: await metric('lucy_tracker_projection_lag_seconds_count', commands),
      watchers: await metric('lucy_tracker_watchers'),
      stuck: await metric('lucy_tracker_stuck_marked_total'),
      tareas: await metric('lucy_tracker_purged_total', { kind: 'tareas' }),
      logs: await metric('lucy_tracker_purged_total', { kind: 'logs' }),
    };

    // A WatchTareas stream is open while the rest happens.
    const controller = new AbortController();
    const stream = (async () => {
      for await (const change of tasks.watchTareas({}, { signal: controller.signal })) void change;
    })().catch(() => undefined);
    await waitFor(() => h.tracker.broadcaster.size > 0, { what: 'watch subscribed' });
    expect(await metric('lucy_tracker_watchers')).toBe(before.watchers + 1);

    // A command becomes a pending Tarea, is started and then goes quiet.
    const { taskId } = await pub.publish(
      CREAR,
      CrearUsuarioTeamsCommandSchema,
      { alumnoId: 'alu-m' },
      { taskType: CREAR_TASK, requestedBy: 'ana@fce', trigger: 'admin' },
    );
    await reporterFor(h, taskId).started('alu-m');
    // An event that cannot be decoded (dead-lettered) and one of a kind the tracker does not know (ignored).
    await h.nats.handles.js.publish(
      h.nats.names.evt('task', 'started'),
      new Uint8Array([0xff, 0xff, 0xff, 0x0f]),
    );
    await h.nats.handles.js.publish(h.nats.names.evt('task', 'desconocido'), new Uint8Array());
    await waitFor(
      async () =>
        (await tasks.getTarea({ id: taskId }).catch(() => undefined))?.tarea?.estado ===
          TareaEstado.RUNNING &&
        (await metric('lucy_tracker_messages_total', { ...events, outcome: 'undecodable' })) >
          before.undecodable &&
        (await metric('lucy_tracker_messages_total', { ...events, outcome: 'ignored' })) > before.ignored,
      { what: 'running Tarea and both odd events settled' },
    );
    expect(
      await metric('lucy_tracker_messages_total', { ...commands, outcome: 'projected' }),
    ).toBeGreaterThan(before.projected);
    expect(await metric('lucy_tracker_messages_total', { ...events, outcome: 'projected' })).toBeGreaterThan(
      before.events,
    );
    expect(await metric('lucy_tracker_batch_seconds_count', commands)).toBeGreaterThan(before.batches);
    expect(await metric('lucy_tracker_projection_lag_seconds_count', commands)).toBeGreaterThan(before.lag);
    expect(await metric('lucy_tracker_projection_lag_seconds_sum', commands)).toBeGreaterThanOrEqual(0);

    now = new Date(Date.now() + 3_600_000);
    expect((await h.tracker.sweepStuck()).map((s) => s.id)).toContain(taskId);
    now = undefined;
    expect(await metric('lucy_tracker_stuck_marked_total')).toBe(before.stuck + 1);

    // Three Tareas and two Logs older than the retention, then a purge run.
    const old = new Date(Date.now() - 200 * 86_400_000);
    await seedOldTareas(h, old, 3, 2);
    const purge = await pub.publish(
      PURGAR,
      PurgarTareasCommandSchema,
      {},
      { taskType: PURGAR_TASK, requestedBy: 'beat', trigger: 'schedule' },
    );
    await waitFor(
      async () =>
        (await tasks.getTarea({ id: purge.taskId }).catch(() => undefined))?.tarea?.estado ===
        TareaEstado.COMPLETED,
      { what: 'purge completed', timeoutMs: 15_000 },
    );
    expect(await metric('lucy_tracker_purged_total', { kind: 'tareas' })).toBe(before.tareas + 3);
    expect(await metric('lucy_tracker_purged_total', { kind: 'logs' })).toBe(before.logs + 2);

    controller.abort();
    await stream;
    await waitFor(async () => (await metric('lucy_tracker_watchers')) === before.watchers, {
      what: 'watcher gone',
    });
  });
});
