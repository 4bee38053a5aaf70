import {
  createServiceRuntime,
  rpcListenOptions,
  startRpcServer,
  type CommandWorker,
  type Logger,
  type RpcServer,
  type ServiceRuntime,
} from '@lucy/platform';
import { NotifierService } from '@lucy/proto';
import type { Knex } from '@mikro-orm/postgresql';
import { createDirectory, createSmtpMailer, type Directory, type Mailer } from './adapters/index.js';
import type { NotifierConfig } from './config.js';
import { createEmailWorker } from './consumers/enviar-email.consumer.js';
import { createPlantillaCache, notifierOrm } from './db/index.js';
import { dominioDe } from './domain/index.js';
import { boundNotifierRpc } from './rpc/input.js';
import { createNotifierRpc } from './rpc/notifier.rpc.js';
import { createImportPlantillasRpc } from './rpc/import.rpc.js';

/** Options of {@link startNotifierService} (tests). */
export interface NotifierServiceOptions {
  clock?: () => Date;
  logger?: Logger;
  /** Delay before redelivering a transiently failed e-mail; default the worker's exponential backoff. */
  backoffMs?: (attempt: number) => number;
  /** Replaces the RPC lookups of alumnos and credentials. */
  directory?: Directory;
}

/** A running notifier. */
export interface NotifierServiceHandle {
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
  readonly knex: Knex;
  readonly rpc: RpcServer;
  readonly worker: CommandWorker;
  readonly mailer: Mailer;
  stop(): Promise<void>;
}

/** Starts the notifier: runtime, the e-mail worker, the SMTP pool and the RPC server. */
export async function startNotifierService(
  config: NotifierConfig,
  options: NotifierServiceOptions = {},
): Promise<NotifierServiceHandle> {
  const clock = options.clock ?? (() => new Date());
  const runtime = await createServiceRuntime({
    service: 'notifier',
    settings: config,
    orm: notifierOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { logger } = runtime;
  const knex = runtime.orm.em.getKnex();
  const mailer = createSmtpMailer({ config, logger });
  const directory =
    options.directory ??
    createDirectory({
      identityUrl: config.IDENTITY_RPC_URL,
      ingestUrl: config.INGEST_RPC_URL,
      token: config.RPC_TOKEN,
      timeoutMs: config.NOTIFY_RPC_TIMEOUT_MS,
    });
  const plantillas = createPlantillaCache(knex);
  const worker = createEmailWorker({
    knex,
    plantillas,
    nats: runtime.nats,
    names: runtime.names,
    buckets: runtime.buckets,
    logger,
    worker: runtime.workerId,
    clock,
    mailer,
    directory,
    messageIdDomain: dominioDe(config.SMTP_FROM),
    moodleUrl: config.MOODLE_PUBLIC_URL,
    concurrency: config.NOTIFY_CONCURRENCY,
    maxAttempts: config.NOTIFY_MAX_ATTEMPTS,
    ackWaitMs: config.NOTIFY_ACK_WAIT_MS,
    backoffMs: options.backoffMs,
  });
  try {
    await worker.start();
    const rpc = await startRpcServer({
      ...rpcListenOptions(config),
      token: config.RPC_TOKEN,
      readiness: runtime.readiness,
      logger,
      services: [NotifierService],
      routes: (router) => {
        router.service(
          NotifierService,
          boundNotifierRpc({
            ...createNotifierRpc({ knex, mailer, clock, plantillas }),
            ...createImportPlantillasRpc({ knex, clock, plantillas }),
          }),
        );
      },
    });
    logger.info(
      {
        port: rpc.port,
        smtp: `${config.SMTP_HOST}:${config.SMTP_PORT}`,
        dkim: Boolean(config.SMTP_DKIM_DOMAIN),
      },
      'notifier started',
    );
    return {
      runtime,
      logger,
      knex,
      rpc,
      worker,
      mailer,
      async stop() {
        await rpc.close();
        await worker.stop();
        mailer.close();
        await runtime.close();
      },
    };
  } catch (err) {
    await worker.stop().catch(() => undefined);
    mailer.close();
    await runtime.close();
    throw err;
  }
}
