import {
  createServiceRuntime,
  rpcListenOptions,
  secretBoxFromConfig,
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
import { createConfiguracionCorreoRpc } from './rpc/configuracion.rpc.js';
import { createMailSettings, type MailSettings } from './settings.js';

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
  /** The SMTP credentials in use (staff's, else the deployment's). */
  readonly settings: MailSettings;
  stop(): Promise<void>;
}

/** Starts the notifier: runtime, the e-mail worker, the SMTP pool and the RPC server. */
export async function startNotifierService(
  config: NotifierConfig,
  options: NotifierServiceOptions = {},
): Promise<NotifierServiceHandle> {
  const clock = options.clock ?? (() => new Date());
  // Checked before anything starts: a LUCY_SECRET_KEY_ID missing from the key ring is a configuration error.
  const box = config.LUCY_SECRET_KEYS
    ? secretBoxFromConfig({
        LUCY_SECRET_KEYS: config.LUCY_SECRET_KEYS,
        LUCY_SECRET_KEY_ID: config.LUCY_SECRET_KEY_ID,
      })
    : undefined;
  const runtime = await createServiceRuntime({
    service: 'notifier',
    settings: config,
    orm: notifierOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { logger } = runtime;
  const knex = runtime.orm.em.getKnex();
  // The SMTP credentials staff set in the admin's Configuración over SMTP_USER/SMTP_PASSWORD; the mailer reads
  // them at each send. Loaded before the worker starts, re-read every NOTIFY_SETTINGS_REFRESH_MS (other replicas).
  const settings = createMailSettings({
    knex,
    box,
    defaults: { user: config.SMTP_USER, password: config.SMTP_PASSWORD },
    onError: (err) =>
      logger.warn(
        { err },
        'stored smtp credentials not read or not opened; using the last or the deployment ones',
      ),
  });
  try {
    await settings.load();
  } catch (err) {
    await runtime.close();
    throw err;
  }
  settings.start(config.NOTIFY_SETTINGS_REFRESH_MS);
  const mailer = createSmtpMailer({ config, logger, credentials: () => settings.credentials });
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
  let rpc: RpcServer | undefined;
  try {
    // The port first: a taken port must fail the start before any e-mail is consumed (a consumer that took one and
    // then died with the process would hold it until its ack deadline).
    rpc = await startRpcServer({
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
            ...createConfiguracionCorreoRpc({
              settings,
              config,
              js: runtime.nats.js,
              names: runtime.names,
              clock,
            }),
          }),
        );
      },
    });
    await worker.start();
    logger.info(
      {
        port: rpc.port,
        smtp: `${config.SMTP_HOST}:${config.SMTP_PORT}`,
        // Where the SMTP login comes from (personal | despliegue | none); a secret-like key would be redacted.
        smtpLoginOrigin: settings.origin || 'none',
        dkim: Boolean(config.SMTP_DKIM_DOMAIN),
      },
      'notifier started',
    );
    const server = rpc;
    return {
      runtime,
      logger,
      knex,
      rpc: server,
      worker,
      mailer,
      settings,
      async stop() {
        await server.close();
        await worker.stop();
        settings.stop();
        mailer.close();
        await runtime.close();
      },
    };
  } catch (err) {
    await rpc?.close().catch(() => undefined);
    await worker.stop().catch(() => undefined);
    settings.stop();
    mailer.close();
    await runtime.close();
    throw err;
  }
}
