import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandPublisher, createRpcClient, type CommandPublisher } from '@lucy/platform';
import { CrearUsuarioTeamsCommandSchema, TareaEstado, TaskService } from '@lucy/proto';
import { TEST_TOKEN, testEnv, testLogger, waitFor } from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { startTracker, type Tracker } from '../src/tracker.js';
import { startHarness, type TrackerHarness } from './helpers.js';

describe('WatchTareas with several tracker replicas', () => {
  let a: TrackerHarness;
  let b: Tracker;
  let pub: CommandPublisher;

  beforeAll(async () => {
    a = await startHarness();
    // Replica B: same database and stream prefix, its own RPC port. Its consumers are stopped so that A projects
    // every change: what B's WatchTareas streams can only have come from the other replica.
    b = await startTracker(
      loadConfig(testEnv({ DATABASE_URL: a.db.url, LUCY_PREFIX: a.nats.prefix, MIGRATE_ON_START: 'false' })),
      { stuckSweepIntervalMs: 0, logger: testLogger('task-tracker-b') },
    );
    await Promise.all(Object.values(b.consumers).map((c) => c.stop()));
    pub = createCommandPublisher(a.nats.handles.js, a.nats.names, a.nats.handles.nc);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it('streams, on one replica, the changes another replica projected, filtered, once each', async () => {
    const tasks = createRpcClient(TaskService, { baseUrl: b.rpc.url, token: TEST_TOKEN });
    const controller = new AbortController();
    const seen: string[] = [];
    const stream = (async () => {
      for await (const change of tasks.watchTareas(
        { filter: { alumnoId: 'alu-replica' } },
        { signal: controller.signal },
      )) {
        seen.push(`${change.tarea?.id}:${TareaEstado[change.tarea?.estado ?? 0]}`);
      }
    })().catch(() => undefined);
    await waitFor(() => b.broadcaster.size > 0, { what: 'watch subscribed on replica B' });

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const alumnoId = i % 2 === 0 ? 'alu-replica' : 'alu-otro';
      const { taskId } = await pub.publish(
        'lucy.cmd.identity.crear_usuario_teams',
        CrearUsuarioTeamsCommandSchema,
        { alumnoId },
        { taskType: 'alumnos.tasks.crear_usuario_teams_async', requestedBy: 'ana@fce', trigger: 'admin' },
      );
      if (alumnoId === 'alu-replica') ids.push(taskId);
    }
    await waitFor(() => ids.every((id) => seen.includes(`${id}:PENDING`)), {
      what: 'every pending Tarea of alu-replica streamed by replica B',
      timeoutMs: 15_000,
    });
    controller.abort();
    await stream;
    // Only the filter's Tareas, and B did not project them itself.
    expect(seen.every((s) => ids.some((id) => s.startsWith(id)))).toBe(true);
    expect(new Set(seen).size).toBe(seen.length);
  });
});
