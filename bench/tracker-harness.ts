// Shared pieces of the task-tracker benchmarks: realistic lifecycle messages, pipelined publishing, a raw
// consume+ack baseline, waiting for the projection to drain, and a TCP proxy that can cut Postgres.
import { create, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CONTENT_TYPE,
  encode,
  ensureConsumer,
  newTraceparent,
  taskHeaders,
  uuidv7,
  type Names,
  type NatsHandles,
  type TaskContext,
  type TriggerName,
} from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  CrearUsuarioTeamsCommandSchema,
  IngestarCommandSchema,
  LogEventSchema,
  LogLevel,
  TaskFailedSchema,
  TaskProgressSchema,
  TaskStartedSchema,
  TaskSucceededSchema,
} from '@lucy/proto';
import { testLogger } from '@lucy/testkit';
import { loadConfig, startTracker, type Tracker } from '@lucy/task-tracker';

/** One message ready to publish. */
export interface BenchMessage {
  subject: string;
  data: Uint8Array;
  headers: ReturnType<typeof taskHeaders>;
  msgID: string;
  kind: 'command' | 'task' | 'log';
}

/** What a generated workload should end as in Postgres. */
export interface Expected {
  tareas: number;
  logs: number;
  completed: number;
  failed: number;
  running: number;
}

const KINDS: Array<{ subject: string; task: string; schema: DescMessage; alumno: boolean }> = [
  {
    subject: 'lucy.cmd.identity.crear_usuario_teams',
    task: 'alumnos.tasks.crear_usuario_teams_async',
    schema: CrearUsuarioTeamsCommandSchema,
    alumno: true,
  },
  {
    subject: 'lucy.cmd.identity.activar_servicios',
    task: 'alumnos.tasks.activar_servicios_alumno',
    schema: ActivarServiciosCommandSchema,
    alumno: true,
  },
  {
    subject: 'lucy.cmd.ingest.ingestar_aspirantes',
    task: 'alumnos.tasks.ingestar_aspirantes',
    schema: IngestarCommandSchema,
    alumno: false,
  },
];

/**
 * The messages of `tasks` Tareas, each with its command, `started`, a heartbeat on every other task, `succeeded`
 * (or `failed` for one in eight, or nothing yet for one in 50, which stays running) and one or two Log lines:
 * about 5 messages per Tarea, spread over many task ids and interleaved as concurrent workers would emit them.
 * Deterministic (no randomness), so each run projects the same work.
 */
export function lifecycleMessages(
  names: Names,
  tasks: number,
  startMs = Date.now(),
): {
  messages: BenchMessage[];
  expected: Expected;
} {
  const messages: BenchMessage[] = [];
  const expected: Expected = { tareas: tasks, logs: 0, completed: 0, failed: 0, running: 0 };
  // Workers run about 50 Tareas at once: the events of task i come while the commands of i+1..i+50 arrive.
  const window = 50;
  const pendingTail: BenchMessage[][] = [];
  for (let i = 0; i < tasks; i++) {
    const kind = KINDS[i % KINDS.length]!;
    const at = startMs + i * 10;
    const taskId = uuidv7(at);
    const trigger: TriggerName = i % 5 === 0 ? 'schedule' : 'admin';
    const ctx: TaskContext = {
      taskId,
      taskType: kind.task,
      requestedBy: trigger === 'schedule' ? 'beat' : `staff${i % 40}@fce`,
      trigger,
      traceparent: newTraceparent(),
    };
    const alumnoId = kind.alumno ? `alu-${(i * 7919) % 200_000}` : '';
    const cmd = encode(kind.schema, create(kind.schema, kind.alumno ? { alumnoId } : {}));
    messages.push({
      subject: names.full(kind.subject),
      data: cmd,
      headers: taskHeaders(ctx, CONTENT_TYPE.protobuf),
      msgID: taskId,
      kind: 'command',
    });
    const later: BenchMessage[] = [];
    const evt = <D extends DescMessage>(
      event: string,
      schema: D,
      init: MessageInitShape<D>,
      offset: number,
    ) => {
      later.push({
        subject: names.evt('task', event),
        data: encode(
          schema,
          create(schema, {
            ...init,
            taskId,
            taskName: kind.task,
            attempt: 1,
            occurredAt: timestampFromDate(new Date(at + offset)),
          }),
        ),
        headers: taskHeaders(ctx, CONTENT_TYPE.protobuf),
        msgID: `${taskId}:1:${event}:${offset}`,
        kind: 'task',
      });
    };
    const log = (level: LogLevel, message: string, offset: number) => {
      const id = uuidv7(at + offset);
      later.push({
        subject: names.evt('log', LogLevel[level].toLowerCase()),
        data: encode(
          LogEventSchema,
          create(LogEventSchema, {
            id,
            level,
            module: kind.alumno ? 'identity' : 'ingest_sial',
            message,
            alumnoId,
            taskId,
            occurredAt: timestampFromDate(new Date(at + offset)),
          }),
        ),
        headers: taskHeaders(ctx, CONTENT_TYPE.protobuf),
        msgID: id,
        kind: 'log',
      });
      expected.logs++;
    };
    evt('started', TaskStartedSchema, { worker: 'bench/1', alumnoId }, 100);
    log(LogLevel.INFO, `Inicio de ${kind.task}`, 110);
    if (i % 2 === 0) evt('progress', TaskProgressSchema, { heartbeat: true }, 500);
    if (i % 50 === 49) {
      expected.running++;
    } else if (i % 8 === 7) {
      evt(
        'failed',
        TaskFailedSchema,
        {
          mensajeError: `Graph respondió 503 para ${alumnoId || 'SIAL'}`,
          willRetry: false,
          errorCode: 'UNAVAILABLE',
        },
        900,
      );
      log(LogLevel.ERROR, `Falló ${kind.task}: Graph respondió 503`, 910);
      expected.failed++;
    } else {
      evt('succeeded', TaskSucceededSchema, { cantidadEntidades: BigInt(kind.alumno ? 1 : 120) }, 900);
      expected.completed++;
    }
    pendingTail.push(later);
    if (pendingTail.length > window) messages.push(...pendingTail.shift()!);
  }
  for (const rest of pendingTail) messages.push(...rest);
  return { messages, expected };
}

/** Publishes messages with up to `inFlight` unacknowledged publications; returns the seconds it took. */
export async function publishAll(
  nats: NatsHandles,
  messages: readonly BenchMessage[],
  inFlight = 2000,
): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < messages.length) {
      const m = messages[next++]!;
      await nats.js.publish(m.subject, m.data, { headers: m.headers, msgID: m.msgID });
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return (performance.now() - t0) / 1000;
}

/**
 * The raw JetStream consume+ack rate over the same stored messages: one durable pull consumer per stream, every
 * message acked as it arrives (no decoding, no database). Returns the seconds until all were acked.
 */
export async function rawConsumeAll(
  nats: NatsHandles,
  streams: ReadonlyArray<{ stream: string; subject: string }>,
): Promise<{ seconds: number; messages: number }> {
  const t0 = performance.now();
  let total = 0;
  await Promise.all(
    streams.map(async ({ stream, subject }) => {
      const durable = 'bench_raw_consume';
      const info = await nats.jsm.streams.info(stream);
      const want = info.state.messages;
      await ensureConsumer(nats.jsm, stream, durable, subject, { ackWaitMs: 60_000, maxAckPending: 20_000 });
      const consumer = await nats.js.consumers.get(stream, durable);
      const iter = await consumer.consume({ max_messages: 1000 });
      let n = 0;
      for await (const m of iter) {
        m.ack();
        if (++n >= want) break;
      }
      // The last acks must reach the server before the figure counts as done.
      await nats.nc.flush();
      total += n;
      await nats.jsm.consumers.delete(stream, durable);
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, messages: total };
}

/** Durables of the projection (the purge worker's is not part of it). */
export const PROJECTION_DURABLES = [
  ['cmd', 'task-tracker_commands'],
  ['evt', 'task-tracker_task-events'],
  ['evt', 'task-tracker_logs'],
] as const;

/** Pending + unacknowledged messages of the projection's durables (0 = all projected and durable). */
export async function projectionBacklog(nats: NatsHandles, names: Names): Promise<number> {
  let n = 0;
  for (const [stream, durable] of PROJECTION_DURABLES) {
    try {
      const c = await nats.jsm.consumers.info(names.streams[stream], durable);
      n += c.num_pending + c.num_ack_pending;
    } catch {
      n += 1;
    }
  }
  return n;
}

/** Starts task-tracker in-process on a bench database and prefix, quiet, RPC on port 0. */
export async function startBenchTracker(
  databaseUrl: string,
  prefix: string,
  batchSize?: number,
): Promise<Tracker> {
  const config = loadConfig({
    NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    DATABASE_URL: databaseUrl,
    LUCY_PREFIX: prefix,
    RPC_TOKEN: BENCH_TOKEN,
    RPC_PORT: '0',
    RPC_HOST: '127.0.0.1',
    MIGRATE_ON_START: 'true',
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
  });
  return startTracker(config, {
    stuckSweepIntervalMs: 0,
    logger: testLogger('task-tracker'),
    ...(batchSize ? { batchSize } : {}),
  });
}

/** RPC token of the bench trackers. */
export const BENCH_TOKEN = 'bench-token-0123456789abcdef';

/** Polls every `intervalMs` until `probe` is true; returns the seconds waited. */
export async function until(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await probe().catch(() => false)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP proxy in front of Postgres that can be cut and restored (shared with the outage test). */
export { createCuttableProxy as cuttableProxy } from '@lucy/testkit';
