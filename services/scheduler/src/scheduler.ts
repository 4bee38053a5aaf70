import {
  createServiceRuntime,
  publishLog,
  rpcListenOptions,
  startRpcServer,
  type Logger,
  type RpcServer,
  type ServiceRuntime,
} from '@lucy/platform';
import { SchedulerService } from '@lucy/proto';
import type { SchedulerConfig } from './config.js';
import { createSchedulerRepository, schedulerOrm, type SchedulerRepository } from './db/index.js';
import { applyDefaults } from './defaults.js';
import { createFiringEngine, type FiringEngine } from './engine/firing.engine.js';
import { createImportPeriodicTasksRpc } from './rpc/import.rpc.js';
import { createSchedulerRpc } from './rpc/scheduler.rpc.js';

/** Options of {@link createScheduler}. */
export interface SchedulerOptions {
  /** Injected clock (firing, lease expiry, missed runs); default the system clock. */
  clock?: () => Date;
  logger?: Logger;
  /** Full reload period, ms; default 30 000. */
  reloadIntervalMs?: number;
}

/** A running scheduler replica. */
export interface Scheduler {
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
  readonly rpc: RpcServer;
  readonly repo: SchedulerRepository;
  readonly engine: FiringEngine;
  stop(): Promise<void>;
}

/**
 * Starts one scheduler replica: runtime (NATS, streams, buckets, database), default periodic tasks on first
 * start, the firing engine (leader election + firing) and the SchedulerService RPC server.
 */
export async function createScheduler(
  config: SchedulerConfig,
  options: SchedulerOptions = {},
): Promise<Scheduler> {
  const clock = options.clock ?? (() => new Date());
  const runtime = await createServiceRuntime({
    service: 'scheduler',
    settings: config,
    orm: schedulerOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { logger } = runtime;
  const repo = createSchedulerRepository(runtime.orm.em.getKnex());
  if (await applyDefaults(repo, clock())) logger.info('default periodic tasks created');
  const engine = createFiringEngine({
    repo,
    publisher: runtime.publisher,
    nats: runtime.nats,
    names: runtime.names,
    leases: runtime.buckets.leases,
    instance: config.INSTANCE_ID,
    logger,
    clock,
    leaseTtlMs: config.SCHEDULER_LEASE_TTL_MS,
    tickMaxMs: config.SCHEDULER_TICK_MAX_MS,
    ...(options.reloadIntervalMs ? { reloadIntervalMs: options.reloadIntervalMs } : {}),
  });
  // The port first: a taken port must fail the start before this replica takes the lease and publishes; the
  // dependencies (NATS, Postgres, migrations) were checked by the runtime above.
  let rpc: RpcServer | undefined;
  try {
    rpc = await startRpcServer({
      ...rpcListenOptions(config),
      token: config.RPC_TOKEN,
      services: [SchedulerService],
      readiness: runtime.readiness,
      logger,
      routes: (router) => {
        router.service(SchedulerService, {
          ...createSchedulerRpc({
            repo,
            engine,
            publisher: runtime.publisher,
            registry: runtime.buckets.registry,
            clock,
            log: (entry) => publishLog(runtime.nats.js, runtime.names, entry, undefined, clock),
          }),
          ...createImportPeriodicTasksRpc({
            repo,
            engine,
            registry: runtime.buckets.registry,
            knex: runtime.orm.em.getKnex(),
            clock,
          }),
        });
      },
    });
    await engine.start();
  } catch (err) {
    await rpc?.close().catch(() => undefined);
    await engine.stop().catch(() => undefined);
    await runtime.close().catch(() => undefined);
    throw err;
  }
  logger.info({ port: rpc.port, instance: config.INSTANCE_ID }, 'scheduler started');
  const server = rpc;
  return {
    runtime,
    logger,
    rpc: server,
    repo,
    engine,
    async stop() {
      await server.close();
      await engine.stop();
      await runtime.close();
    },
  };
}
