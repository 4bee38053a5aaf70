import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { createServer } from 'node:net';
import { createLogger } from './logger.js';
import { noteProcessService, rpcListenOptions } from './config.js';
import { createNames, type Names } from './names.js';
import { connectNats, provisionBuckets, provisionStreams, type Buckets, type NatsHandles } from './nats.js';
import { createOrm, describeDatabase, migrate, pingDatabase, type OrmOptions } from './db.js';
import { announceTasks, type ServiceName } from './task-catalog.js';
import { createCommandPublisher, type CommandPublisher } from './publisher.js';
import { openRunnerBuckets } from './worker.js';
import type { ReadinessCheck } from './rpc-server.js';

/** The shared settings a runtime needs (see `platformEnvShape`). */
export interface RuntimeSettings {
  NATS_URL: string;
  LUCY_PREFIX: string;
  /** JetStream replicas of the streams and buckets (default 1). */
  LUCY_STREAM_REPLICAS?: number;
  DATABASE_URL: string;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  INSTANCE_ID: string;
  [key: string]: unknown;
}

/** Connections and helpers of a running service. */
export interface ServiceRuntime {
  readonly service: ServiceName;
  readonly logger: Logger;
  readonly names: Names;
  readonly nats: NatsHandles;
  readonly buckets: Buckets;
  readonly publisher: CommandPublisher;
  readonly orm: MikroORM;
  /** `service/instance`, used as worker identity. */
  readonly workerId: string;
  readonly readiness: ReadinessCheck[];
  /** Drains NATS and closes the database. */
  close(): Promise<void>;
}

/** Options of {@link createServiceRuntime}. */
export interface RuntimeOptions {
  service: ServiceName;
  settings: RuntimeSettings;
  orm: Omit<OrmOptions, 'url' | 'logger'>;
  /** Run pending migrations at start (dev and tests); production runs the `migrate` entry point first. */
  migrateOnStart?: boolean;
  logger?: Logger;
}

/**
 * Wires what every service needs: logger, NATS (streams and buckets provisioned idempotently), the task
 * registry announcement, the command publisher, and MikroORM on the service's schema.
 */
export async function createServiceRuntime(options: RuntimeOptions): Promise<ServiceRuntime> {
  const { settings, service } = options;
  noteProcessService(service);
  const logger =
    options.logger ?? createLogger({ service, level: settings.LOG_LEVEL, instance: settings.INSTANCE_ID });
  // Fail fast on a taken port, before any connection or consumer: a service that consumed a command and then died
  // binding its port would hold that command until its ack deadline.
  await probeListenPorts(settings);
  const names = createNames(settings.LUCY_PREFIX);
  const nats = await connectNats(settings, logger, `${service}/${settings.INSTANCE_ID}`);
  const replicas = settings.LUCY_STREAM_REPLICAS ?? 1;
  await provisionStreams(nats.jsm, names, replicas);
  const buckets = await provisionBuckets(nats.kvm, names, replicas);
  // The consumer runner's buckets too, so they get the replicas before a worker opens them.
  await openRunnerBuckets(nats.js, names, replicas);
  await announceTasks(buckets.registry, service);
  logger.info(
    { database: describeDatabase(settings.DATABASE_URL), schema: options.orm.schema },
    'opening database',
  );
  // The dependencies are checked before the service consumes anything, and a failure names the database.
  const databaseError = (err: unknown) =>
    new Error(
      `database ${describeDatabase(settings.DATABASE_URL)}: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  const orm = await createOrm({ ...options.orm, url: settings.DATABASE_URL, logger }).catch(
    async (err: unknown) => {
      await nats.nc.close().catch(() => undefined);
      throw databaseError(err);
    },
  );
  try {
    await pingDatabase(orm).catch((err: unknown) => {
      throw databaseError(err);
    });
    if (options.migrateOnStart) await migrate(orm, options.orm.schema, logger);
  } catch (err) {
    await nats.nc.close().catch(() => undefined);
    await orm.close(true).catch(() => undefined);
    throw err;
  }
  const readiness: ReadinessCheck[] = [
    {
      name: 'nats',
      check: async () => {
        if (nats.nc.isClosed()) throw new Error('connection closed');
        await nats.nc.flush();
      },
    },
    { name: 'database', check: () => pingDatabase(orm) },
  ];
  return {
    service,
    logger,
    names,
    nats,
    buckets,
    publisher: createCommandPublisher(nats.js, names, nats.nc),
    orm,
    workerId: `${service}/${settings.INSTANCE_ID}`,
    readiness,
    async close() {
      await nats.nc.drain().catch(() => undefined);
      await orm.close(true);
    },
  };
}

/**
 * Checks that the RPC port (and the /metrics port) of a service can be bound, by binding and closing them, so a
 * taken port fails the start before NATS, the database or any consumer is touched. Port 0 and settings without
 * `RPC_PORT` (tools) are not probed. The server binds again right after; a port taken in between still fails there.
 */
export async function probeListenPorts(settings: Record<string, unknown>): Promise<void> {
  if (typeof settings.RPC_PORT !== 'number' || typeof settings.RPC_HOST !== 'string') return;
  const listen = rpcListenOptions(settings as unknown as Parameters<typeof rpcListenOptions>[0]);
  const targets = [{ port: listen.port, host: listen.host }];
  if (listen.metrics) targets.push(listen.metrics);
  for (const { port, host } of targets) {
    if (port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
    });
  }
}
