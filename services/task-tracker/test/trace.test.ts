import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  createCommandPublisher,
  createRpcClient,
  H,
  newTraceparent,
  publishLog,
  traceIdOf,
  type CommandPublisher,
} from '@lucy/platform';
import { PurgarTareasCommandSchema, TaskService } from '@lucy/proto';
import { readStream, TEST_TOKEN, waitFor } from '@lucy/testkit';
import { rows, startHarness, type TrackerHarness } from './helpers.js';

const SUBJECT = 'lucy.cmd.tracker.purgar_tareas';
const TASK = 'mantenimiento.tasks.purgar_tareas_antiguas';

describe('trace context: a Tarea and its Logs keep the trace id of their command, and ListTareas finds them by it', () => {
  let h: TrackerHarness;
  let pub: CommandPublisher;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;

  beforeAll(async () => {
    h = await startHarness();
    pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
  });
  afterAll(async () => {
    await h?.close();
  });

  const tarea = (id: string, estado: string) =>
    waitFor(
      async () =>
        (
          await rows<{ estado: string; trace_id: string | null }>(
            h,
            `select estado, trace_id from tracker.tarea where id = ?::uuid and version > 0`,
            [id],
          )
        ).find((t) => t.estado === estado),
      { what: `Tarea ${id} ${estado}`, timeoutMs: 15_000 },
    );

  /** A command the purge worker refuses (negative retention): a failed Tarea that keeps its payload. */
  const failedPurge = async (traceparent: string) => {
    const { taskId } = await pub.publish(
      SUBJECT,
      PurgarTareasCommandSchema,
      { retentionDays: -1 },
      { taskType: TASK, requestedBy: 'ana@fce', trigger: 'admin', traceparent },
    );
    await tarea(taskId, 'failed');
    return taskId;
  };

  it('stores the command trace id on the Tarea and the event trace id on its Logs', async () => {
    const traceparent = newTraceparent();
    const traceId = traceIdOf(traceparent)!;
    const taskId = await failedPurge(traceparent);
    expect((await tarea(taskId, 'failed')).trace_id).toBe(traceId);

    await publishLog(
      h.nats.handles.js,
      h.nats.names,
      { level: 'INFO', module: 'test', message: 'Línea con traza', taskId },
      { taskId, taskType: TASK, requestedBy: 'ana@fce', trigger: 'admin', traceparent },
    );
    const log = await waitFor(
      async () =>
        (
          await rows<{ trace_id: string | null }>(
            h,
            `select trace_id from tracker.log where task_id = ?::uuid and module = 'test'`,
            [taskId],
          )
        )[0],
      { what: 'Log row', timeoutMs: 15_000 },
    );
    expect(log.trace_id).toBe(traceId);

    const found = await tasks.listTareas({ filter: { traceId } });
    expect(found.tareas.map((t) => t.id)).toEqual([taskId]);
    expect(found.tareas[0]!.traceId).toBe(traceId);
    // Upper case is the same trace id; another trace finds nothing.
    expect((await tasks.listTareas({ filter: { traceId: traceId.toUpperCase() } })).tareas).toHaveLength(1);
    expect((await tasks.listTareas({ filter: { traceId: traceIdOf(newTraceparent())! } })).tareas).toEqual(
      [],
    );
  });

  it('refuses a malformed trace id naming the field', async () => {
    for (const traceId of ['abc', '0'.repeat(32), `${'a'.repeat(31)}g`]) {
      const err = await tasks.listTareas({ filter: { traceId } }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toContain('filter.trace_id');
    }
  });

  it('puts a RetryTarea call, the command it publishes, the task run and the new Tarea in the caller’s trace', async () => {
    const failedId = await failedPurge(newTraceparent());
    const caller = newTraceparent();
    const traceId = traceIdOf(caller)!;
    let answered: string | null = null;
    const res = await tasks.retryTarea(
      { id: failedId, requestedBy: 'ana@fce' },
      { headers: { [H.traceparent]: caller }, onHeader: (hd) => (answered = hd.get(H.traceparent)) },
    );
    const retryId = res.tarea!.id;
    // The answer names the call's span, a child of the caller's: same trace, another span id.
    expect(traceIdOf(answered)).toBe(traceId);
    expect(answered).not.toBe(caller);

    expect((await tarea(retryId, 'failed')).trace_id).toBe(traceId);
    expect((await tasks.listTareas({ filter: { traceId } })).tareas.map((t) => t.id)).toEqual([retryId]);

    // The command and every event the worker reported for the retry carry the same trace.
    const messages = [
      ...(await readStream(h.nats.handles, h.nats.names.streams.cmd)),
      ...(await readStream(h.nats.handles, h.nats.names.streams.evt)),
    ].filter((m) => m.header(H.taskId) === retryId);
    expect(messages.map((m) => h.nats.names.canonical(m.subject))).toEqual(
      expect.arrayContaining([SUBJECT, 'lucy.evt.task.failed']),
    );
    for (const m of messages) expect(traceIdOf(m.header(H.traceparent))).toBe(traceId);
  });
});
