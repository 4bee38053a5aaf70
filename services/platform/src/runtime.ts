import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { createLogger } from './logger.js';
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
  const logger =
    options.logger ?? createLogger({ service, level: settings.LOG_LEVEL, instance: settings.INSTANCE_ID });
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
  const orm = await createOrm({ ...options.orm, url: settings.DATABASE_URL, logger });
  if (options.migrateOnStart) await migrate(orm, options.orm.schema, logger);
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
