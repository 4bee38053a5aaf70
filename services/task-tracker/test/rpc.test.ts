import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  CONTENT_TYPE,
  createCommandPublisher,
  encode,
  createRpcClient,
  H,
  type CommandPublisher,
  type TaskReporter,
} from '@lucy/platform';
import {
  AlumnoCreatedSchema,
  CrearUsuarioTeamsCommandSchema,
  LogLevel,
  PurgarTareasCommandSchema,
  LogService,
  TareaEstado,
  TareaTipo,
  TaskService,
  Trigger,
} from '@lucy/proto';
import { readStream, TEST_TOKEN, waitFor } from '@lucy/testkit';
import { STUCK_MESSAGE } from '../src/domain/projection.js';
import {
  reporterFor as reporterOf,
  rows,
  seedOldTareas,
  startHarness,
  type TrackerHarness,
} from './helpers.js';

const CREAR = 'lucy.cmd.identity.crear_usuario_teams';
const CREAR_TASK = 'alumnos.tasks.crear_usuario_teams_async';

describe('TaskService and LogService over a real server', () => {
  let h: TrackerHarness;
  let pub: CommandPublisher;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  let logs: ReturnType<typeof createRpcClient<typeof LogService>>;
  let now: Date | undefined;

  beforeAll(async () => {
    h = await startHarness({ clock: () => now ?? new Date() });
    pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    logs = createRpcClient(LogService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Publishes a crear_usuario_teams command (no worker runs in this test) and waits for its pending Tarea. */
  async function pending(alumnoId: string, requestedBy = 'ana@fce', trigger: 'admin' | 'schedule' = 'admin') {
    const { taskId } = await pub.publish(
      CREAR,
      CrearUsuarioTeamsCommandSchema,
      { alumnoId },
      { taskType: CREAR_TASK, requestedBy, trigger },
    );
    await waitFor(async () => (await tasks.getTarea({ id: taskId }).catch(() => undefined))?.tarea, {
      what: 'pending Tarea',
    });
    return taskId;
  }
  const reporterFor = (taskId: string, attempt = 1, clock?: () => Date): TaskReporter =>
    reporterOf(h, taskId, { attempt, ...(clock ? { clock } : {}) });
  const estadoOf = async (id: string) => (await tasks.getTarea({ id })).tarea?.estado;

  it('refuses calls without the token or with a wrong one', async () => {
    for (const token of ['', 'wrong-token-0123456789']) {
      const c = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token });
      const err = await c.getDashboard({}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    }
  });

  it('lists Tareas with filters, search and keyset pagination', async () => {
    const a = await pending('alu-1', 'ana@fce', 'admin');
    const b = await pending('alu-2', 'beat', 'schedule');
    const c = await pending('alu-3', 'ana@fce', 'admin');
    const byAna = await tasks.listTareas({
      filter: { requestedBy: 'ana@fce', tipos: [TareaTipo.CREAR_USUARIO_TEAMS] },
    });
    expect(byAna.tareas.map((t) => t.id)).toEqual([c, a]);
    expect(byAna.tareas[0]).toMatchObject({
      estado: TareaEstado.PENDING,
      trigger: Trigger.ADMIN,
      alumnoId: 'alu-3',
      taskName: CREAR_TASK,
    });
    const scheduled = await tasks.listTareas({ filter: { triggers: [Trigger.SCHEDULE] } });
    expect(scheduled.tareas.map((t) => t.id)).toEqual([b]);
    expect((await tasks.listTareas({ filter: { search: b } })).tareas.map((t) => t.id)).toEqual([b]);
    expect((await tasks.listTareas({ filter: { search: 'alu-2' } })).tareas.map((t) => t.id)).toEqual([b]);

    const first = await tasks.listTareas({ page: { pageSize: 2 } });
    expect(first.tareas.map((t) => t.id)).toEqual([c, b]);
    const second = await tasks.listTareas({ page: { pageSize: 2, pageToken: first.page!.nextPageToken } });
    expect(second.tareas.map((t) => t.id)).toContain(a);
    const oldest = await tasks.listTareas({ oldestFirst: true, filter: { alumnoId: 'alu-1' } });
    expect(oldest.tareas.map((t) => t.id)).toEqual([a]);
  });

  it('names the alumno of a Tarea from alumno events and finds it by name or DNI', async () => {
    const before = await pending('alu-10');
    await h.nats.handles.js.publish(
      h.nats.names.evt('alumno', 'created'),
      encode(AlumnoCreatedSchema, {
        alumno: { id: 'alu-10', dni: '40123456', nombre: 'Juan', apellido: 'Pérez' },
      }),
    );
    await waitFor(async () => (await tasks.getTarea({ id: before })).tarea?.alumnoNombre === 'Pérez, Juan', {
      what: 'name filled',
    });
    const after = await pending('alu-10');
    expect((await tasks.getTarea({ id: after })).tarea?.alumnoNombre).toBe('Pérez, Juan');
    expect((await tasks.listTareas({ filter: { search: '40123456' } })).tareas.map((t) => t.id)).toEqual([
      after,
      before,
    ]);
    expect((await tasks.listTareas({ filter: { search: 'pérez' } })).tareas).toHaveLength(2);
  });

  it('rejects an inverted date range with a Spanish field message', async () => {
    const err = (await tasks
      .listTareas({
        filter: {
          desde: timestampFromDate(new Date('2026-02-01')),
          hasta: timestampFromDate(new Date('2026-01-01')),
        },
      })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain('filter.desde: La fecha desde debe ser anterior a hasta');
  });

  it('shows a Tarea with its logs and timeline, and the dashboard counters', async () => {
    const id = await pending('alu-4');
    const r = reporterFor(id);
    await r.started('alu-4');
    await r.log({
      level: 'INFO',
      module: 'teams_service',
      message: 'Creando usuario test-alu-4',
      alumnoId: 'alu-4',
    });
    await r.succeeded(1, { upn: 'test-alu-4@fce', password: 'secreta' });
    await waitFor(async () => (await estadoOf(id)) === TareaEstado.COMPLETED, { what: 'completed' });
    const got = await waitFor(
      async () => {
        const g = await tasks.getTarea({ id });
        return g.logs.length ? g : undefined;
      },
      { what: 'log projected' },
    );
    expect(got.timeline.map((e) => e.kind)).toEqual(['published', 'started', 'succeeded']);
    expect(got.logs[0]).toMatchObject({
      level: LogLevel.INFO,
      module: 'teams_service',
      alumnoId: 'alu-4',
      taskId: id,
    });
    expect(got.tarea?.detalles).toEqual({ upn: 'test-alu-4@fce', password: '[REDACTED]' });

    const d = await tasks.getDashboard({});
    expect(d.completadas24h).toBe(1n);
    expect(d.pendientes).toBeGreaterThanOrEqual(3n);
    expect(d.recientes.length).toBeGreaterThanOrEqual(4);
    expect(d.porDia.some((p) => p.estado === TareaEstado.COMPLETED && p.count === 1n)).toBe(true);

    const found = await logs.listLogs({ levels: [LogLevel.INFO], module: 'teams_service', search: 'alu-4' });
    expect(found.logs).toHaveLength(1);
    expect((await logs.listLogs({ levels: [LogLevel.ERROR] })).logs).toHaveLength(0);
  });

  it('cancels a pending Tarea, recording it for the worker, and refuses to cancel it twice', async () => {
    const id = await pending('alu-5');
    const res = await tasks.cancelTarea({ id, requestedBy: 'ana@fce' });
    expect(res.tarea?.estado).toBe(TareaEstado.CANCELLED);
    expect((await h.tracker.runtime.buckets.cancellations.get(id))?.string()).toBe('ana@fce');
    const err = (await tasks.cancelTarea({ id }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
  });

  it('marks a running Tarea failed with the default message, and retries it as a new linked Tarea', async () => {
    const id = await pending('alu-6');
    await reporterFor(id).started('alu-6');
    await waitFor(async () => (await estadoOf(id)) === TareaEstado.RUNNING, { what: 'running' });
    const failed = await tasks.markFailed({ id, requestedBy: 'ana@fce' });
    expect(failed.tarea).toMatchObject({
      estado: TareaEstado.FAILED,
      mensajeError: 'Tarea marcada como fallida manualmente desde el admin',
    });

    const retry = await tasks.retryTarea({ id, requestedBy: 'ana@fce' });
    expect(retry.tarea).toMatchObject({
      estado: TareaEstado.PENDING,
      parentId: id,
      trigger: Trigger.RETRY,
      alumnoId: 'alu-6',
    });
    const newId = retry.tarea!.id;
    const cmds = await readStream(h.nats.handles, h.nats.names.streams.cmd, h.nats.names.full(CREAR));
    const republished = cmds.find((m) => m.header(H.taskId) === newId);
    expect(republished?.header(H.parentTaskId)).toBe(id);
    expect(republished?.header(H.trigger)).toBe('retry');
    const old = await tasks.getTarea({ id });
    expect(old.later.map((t) => t.id)).toEqual([newId]);
    expect((await tasks.getTarea({ id: newId })).earlier.map((t) => t.id)).toEqual([id]);
    const err = (await tasks.retryTarea({ id: newId }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.FailedPrecondition);
  });

  it('streams Tarea changes that match the filter', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const stream = (async () => {
      for await (const change of tasks.watchTareas(
        { filter: { alumnoId: 'alu-7' } },
        { signal: controller.signal },
      )) {
        seen.push(`${change.tarea?.alumnoId}:${TareaEstado[change.tarea?.estado ?? 0]}`);
      }
    })().catch(() => undefined);
    await waitFor(() => h.tracker.broadcaster.size > 0, { what: 'watch subscribed' });
    await pending('alu-other');
    const id = await pending('alu-7');
    await reporterFor(id).started('alu-7');
    await waitFor(() => seen.includes('alu-7:RUNNING'), { what: 'running change streamed' });
    controller.abort();
    await stream;
    expect(seen[0]).toBe('alu-7:PENDING');
    expect(seen.every((s) => s.startsWith('alu-7:'))).toBe(true);
  });

  it('marks a running Tarea without heartbeats as stuck, with a WARNING log, and leaves live ones alone', async () => {
    const quiet = await pending('alu-8');
    const live = await pending('alu-9');
    await reporterFor(quiet).started('alu-8');
    await reporterFor(live).started('alu-9');
    await waitFor(
      async () =>
        (await estadoOf(quiet)) === TareaEstado.RUNNING && (await estadoOf(live)) === TareaEstado.RUNNING,
    );
    // The live one reports 200 s later; the sweep runs 301 s later, with a threshold of 300 s.
    const later = new Date(Date.now() + 200_000);
    await reporterFor(live, 1, () => later).heartbeat();
    await waitFor(
      async () =>
        ((await tasks.getTarea({ id: live })).tarea?.lastHeartbeatAt?.seconds ?? 0n) >=
        BigInt(Math.floor(later.getTime() / 1000)),
    );
    now = new Date(Date.now() + 301_000);
    const stuck = await h.tracker.sweepStuck();
    expect(stuck.map((s) => s.id)).toContain(quiet);
    expect(stuck.map((s) => s.id)).not.toContain(live);
    expect(await estadoOf(live)).toBe(TareaEstado.RUNNING);
    const q = (await tasks.getTarea({ id: quiet })).tarea!;
    expect(q).toMatchObject({ estado: TareaEstado.FAILED, mensajeError: STUCK_MESSAGE });
    const warn = await logs.listLogs({ levels: [LogLevel.WARNING], taskId: quiet });
    expect(warn.logs).toHaveLength(1);
    now = undefined;
    expect((await h.tracker.sweepStuck()).map((s) => s.id)).not.toContain(quiet);
  });

  it('lists dead letters with their reason and re-drives them to the original subject', async () => {
    await pub.publishRaw(
      'lucy.cmd.tracker.purgar_tareas',
      new TextEncoder().encode('{"nada": 1}'),
      CONTENT_TYPE.json,
      {
        taskType: 'mantenimiento.tasks.purgar_tareas_antiguas',
        requestedBy: 'otro-sistema',
        trigger: 'external',
      },
    );
    const listed = await waitFor(
      async () => {
        const l = await tasks.listDeadLetters({});
        return l.deadLetters.length ? l : undefined;
      },
      { what: 'dead letter listed', timeoutMs: 15_000 },
    );
    const dl = listed.deadLetters[0]!;
    expect(dl.originalSubject).toBe('lucy.cmd.tracker.purgar_tareas');
    expect(dl.reason).toMatch(/^undecodable: invalid JSON/);
    expect(dl.contentType).toBe(CONTENT_TYPE.json);
    expect((await tasks.getDashboard({})).deadLetters).toBe(1n);
    const before = (await readStream(h.nats.handles, h.nats.names.streams.cmd)).length;
    const res = await tasks.redriveDeadLetters({ sequences: [dl.sequence], requestedBy: 'ana@fce' });
    expect(res.results).toEqual([expect.objectContaining({ sequence: dl.sequence, ok: true })]);
    const cmds = await readStream(h.nats.handles, h.nats.names.streams.cmd);
    expect(cmds.length).toBe(before + 1);
    const again = cmds.at(-1)!;
    expect(again.header(H.parentTaskId)).toBe(dl.taskId);
    expect(again.header(H.dlqReason)).toBeUndefined();
    const missing = await tasks.redriveDeadLetters({ sequences: [dl.sequence] });
    expect(missing.results[0]?.ok).toBe(false);
  });

  it('purges Tareas and Logs older than the retention in batches and reports how many', async () => {
    const old = new Date(Date.now() - 200 * 86_400_000);
    await seedOldTareas(h, old, 5);
    const { taskId } = await pub.publish(
      'lucy.cmd.tracker.purgar_tareas',
      PurgarTareasCommandSchema,
      { batchSize: 2 },
      {
        taskType: 'mantenimiento.tasks.purgar_tareas_antiguas',
        requestedBy: 'beat',
        trigger: 'schedule',
      },
    );
    const done = await waitFor(
      async () => {
        const t = (await tasks.getTarea({ id: taskId }).catch(() => undefined))?.tarea;
        return t?.estado === TareaEstado.COMPLETED ? t : undefined;
      },
      { what: 'purge completed', timeoutMs: 15_000 },
    );
    expect(done.detalles).toMatchObject({ tareas_eliminadas: 5, logs_eliminados: 5, retencion_dias: 90 });
    expect(done.cantidadEntidades).toBe(10n);
    // Other tests' Tareas may still be arriving, so totals are compared in one snapshot, not across calls.
    expect(
      (await tasks.listTareas({ filter: { requestedBy: 'viejo' }, page: { pageSize: 500 } })).tareas,
    ).toHaveLength(0);
    const [consistent] = await rows<{ ok: boolean }>(
      h,
      `select (select coalesce(sum(count), 0) from tracker.tarea_hourly_count where estado = 'pending')
            = (select count(*) from tracker.tarea where estado = 'pending') as ok`,
    );
    expect(consistent!.ok).toBe(true);
    expect((await logs.listLogs({ module: 'viejo' })).logs).toHaveLength(0);
  });
});
