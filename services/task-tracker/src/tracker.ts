import type { Knex } from '@mikro-orm/postgresql';
import {
  createServiceRuntime,
  errorMessage,
  pingDatabase,
  rpcListenOptions,
  startRpcServer,
  type Logger,
  type RpcServer,
  type ServiceRuntime,
} from '@lucy/platform';
import { LogService, TaskService } from '@lucy/proto';
import type { TrackerConfig } from './config.js';
import {
  createBatchConsumer,
  type BatchConsumer,
  type BatchConsumerOptions,
} from './consumers/batch-consumer.js';
import { alumnoRef, commandFact, logRow, taskEventFact } from './consumers/projection.consumer.js';
import { createPurgarTareasWorker } from './consumers/purgar-tareas.worker.js';
import { createReplicaFanout } from './consumers/replica-fanout.js';
import { sweepStuck } from './consumers/stuck-sweep.js';
import { trackerOrm } from './db/index.js';
import {
  insertLogs,
  projectBatch,
  upsertAlumnos,
  type AlumnoRef,
  type TareaFact,
} from './db/tarea.repository.js';
import { createBroadcaster, type Broadcaster } from './domain/broadcaster.js';
import type { TareaState } from './domain/projection.js';
import { createLogRpc } from './rpc/log.rpc.js';
import { createTaskRpc } from './rpc/task.rpc.js';

/** Options of {@link startTracker}. */
export interface TrackerOptions {
  /** Injected clock (stuck sweep, dashboard, purge); default the system clock. */
  clock?: () => Date;
  logger?: Logger;
  /** Interval of the stuck sweep in ms; default 30 000; 0 disables the timer (tests call `sweepStuck`). */
  stuckSweepIntervalMs?: number;
  /** Projection batch size (messages per transaction); default 1000. */
  batchSize?: number;
  /** Projection timing (tests shorten it): see BatchConsumerOptions and ProjectBatchOptions. */
  projection?: Pick<BatchConsumerOptions<unknown>, 'applyTimeoutMs' | 'backoffMs' | 'maxPoisonDeliveries'> & {
    statementTimeoutMs?: number;
  };
}

/** A running task-tracker. */
export interface Tracker {
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
  readonly rpc: RpcServer;
  readonly knex: Knex;
  readonly broadcaster: Broadcaster;
  readonly consumers: {
    commands: BatchConsumer;
    events: BatchConsumer;
    logs: BatchConsumer;
    alumnos: BatchConsumer;
  };
  /** Runs the stuck sweep once now. */
  sweepStuck(): Promise<TareaState[]>;
  stop(): Promise<void>;
}

/** Starts task-tracker: runtime, projection consumers, the maintenance worker, the stuck sweep and the RPC server. */
export async function startTracker(config: TrackerConfig, options: TrackerOptions = {}): Promise<Tracker> {
  const clock = options.clock ?? (() => new Date());
  const runtime = await createServiceRuntime({
    service: 'task-tracker',
    settings: config,
    orm: trackerOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { names, nats, logger } = runtime;
  const knex = runtime.orm.em.getKnex();
  const broadcaster = createReplicaFanout({
    nats,
    names,
    knex,
    local: createBroadcaster(),
    logger,
  });
  broadcaster.start();
  const ping = () => pingDatabase(runtime.orm);
  const common = {
    nats,
    names,
    logger,
    ping,
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    ...(options.projection?.applyTimeoutMs ? { applyTimeoutMs: options.projection.applyTimeoutMs } : {}),
    ...(options.projection?.backoffMs ? { backoffMs: options.projection.backoffMs } : {}),
    ...(options.projection?.maxPoisonDeliveries
      ? { maxPoisonDeliveries: options.projection.maxPoisonDeliveries }
      : {}),
  };
  const statementTimeout = options.projection?.statementTimeoutMs;

  const projectFacts = async (facts: TareaFact[]) => {
    const changed = await projectBatch(
      knex,
      facts,
      [],
      statementTimeout ? { statementTimeoutMs: statementTimeout } : {},
    );
    broadcaster.publish(changed);
  };
  const consumers = {
    commands: createBatchConsumer<TareaFact>({
      ...common,
      stream: names.streams.cmd,
      durable: 'task-tracker_commands',
      filterSubject: names.allCommands,
      parse: (msg) => commandFact(msg, names),
      apply: projectFacts,
    }),
    events: createBatchConsumer<TareaFact>({
      ...common,
      stream: names.streams.evt,
      durable: 'task-tracker_task-events',
      filterSubject: names.full('lucy.evt.task.>'),
      parse: (msg) => taskEventFact(msg, names),
      apply: projectFacts,
    }),
    logs: createBatchConsumer({
      ...common,
      stream: names.streams.evt,
      durable: 'task-tracker_logs',
      filterSubject: names.full('lucy.evt.log.>'),
      parse: logRow,
      // A Log row stands alone: one autocommit insert per batch, no Tarea locks.
      apply: (rows) => insertLogs(knex, rows),
    }),
    alumnos: createBatchConsumer<AlumnoRef>({
      ...common,
      stream: names.streams.evt,
      durable: 'task-tracker_alumnos',
      filterSubject: names.full('lucy.evt.alumno.>'),
      parse: (msg) => alumnoRef(msg, names),
      apply: (refs) => upsertAlumnos(knex, refs),
    }),
  };
  const purge = createPurgarTareasWorker({
    nats,
    names,
    logger,
    knex,
    worker: runtime.workerId,
    cancellations: runtime.buckets.cancellations,
    retentionDays: config.TRACKER_RETENTION_DAYS,
    clock,
  });
  // The port first: a taken port must fail the start before any command or event is consumed.
  let server: Awaited<ReturnType<typeof startRpcServer>> | undefined;
  try {
    server = await startRpcServer({
      ...rpcListenOptions(config),
      token: config.RPC_TOKEN,
      services: [TaskService, LogService],
      readiness: runtime.readiness,
      logger,
      routes: (router) => {
        router.service(
          TaskService,
          createTaskRpc({
            knex,
            broadcaster,
            publisher: runtime.publisher,
            nats,
            names,
            cancellations: runtime.buckets.cancellations,
            clock,
          }),
        );
        router.service(LogService, createLogRpc({ knex }));
      },
    });
    for (const c of Object.values(consumers)) await c.start();
    await purge.start();
  } catch (err) {
    await server?.close().catch(() => undefined);
    await Promise.all(Object.values(consumers).map((c) => c.stop().catch(() => undefined)));
    await purge.stop().catch(() => undefined);
    await broadcaster.stop().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    throw err;
  }
  const rpc = server;

  const sweep = async () => {
    const stuck = await sweepStuck({
      knex,
      stuckAfterSeconds: config.TRACKER_STUCK_AFTER_SECONDS,
      now: clock(),
    });
    if (stuck.length) {
      broadcaster.publish(stuck);
      logger.warn({ tareas: stuck.map((s) => s.id) }, 'running Tareas marked stuck');
    }
    return stuck;
  };
  const interval = options.stuckSweepIntervalMs ?? 30_000;
  const timer =
    interval > 0
      ? setInterval(() => {
          sweep().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'stuck sweep failed'));
        }, interval)
      : undefined;
  timer?.unref();

  return {
    runtime,
    logger,
    rpc,
    knex,
    broadcaster,
    consumers,
    sweepStuck: sweep,
    async stop() {
      if (timer) clearInterval(timer);
      await rpc.close();
      await purge.stop();
      await Promise.all(Object.values(consumers).map((c) => c.stop()));
      await broadcaster.stop();
      await runtime.close();
    },
  };
}
