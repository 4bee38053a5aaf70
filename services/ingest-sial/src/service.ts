import {
  createBatchPublisher,
  createServiceRuntime,
  publishLog,
  rpcListenOptions,
  secretBoxFromConfig,
  startRpcServer,
  type CommandWorker,
  type Logger,
  type RpcServer,
  type ServiceRuntime,
} from '@lucy/platform';
import { AlumnoService, IngestService } from '@lucy/proto';
import type { Knex } from '@mikro-orm/postgresql';
import { createSialClient, type SialClientOptions } from './adapters/index.js';
import type { IngestConfig } from './config.js';
import { createIngestWorkers } from './consumers/ingest.consumer.js';
import { createCuentaProjection } from './consumers/cuenta-events.consumer.js';
import { ingestOrm } from './db/index.js';
import { createAlumnoRpc } from './rpc/alumno.rpc.js';
import { createCarrerasRpc } from './rpc/carreras.rpc.js';
import { createImportAlumnosRpc } from './rpc/import.rpc.js';
import { createImportConfiguracionRpc } from './rpc/import-configuracion.rpc.js';
import { createIngestRpc } from './rpc/ingest.rpc.js';
import { createSialCredentialStore, type SialCredentialStore } from './sial-credentials.js';

/** Options of {@link startIngestService} (tests). */
export interface IngestServiceOptions {
  clock?: () => Date;
  logger?: Logger;
  /** Delay before redelivering a transiently failed ingestion; default the worker's exponential backoff. */
  backoffMs?: (attempt: number) => number;
}

/** A running ingest-sial. */
export interface IngestServiceHandle {
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
  readonly knex: Knex;
  readonly rpc: RpcServer;
  readonly workers: readonly CommandWorker[];
  /** The SIAL credentials in use (staff's over the deployment's). */
  readonly sialCredentials: SialCredentialStore;
  stop(): Promise<void>;
}

/** Starts ingest-sial: runtime, the ingestion workers and the RPC server. */
export async function startIngestService(
  config: IngestConfig,
  options: IngestServiceOptions = {},
): Promise<IngestServiceHandle> {
  const clock = options.clock ?? (() => new Date());
  // Fails on bad keys before anything connects; without LUCY_SECRET_KEYS no SIAL password can be stored.
  const box = config.LUCY_SECRET_KEYS
    ? secretBoxFromConfig({
        LUCY_SECRET_KEYS: config.LUCY_SECRET_KEYS,
        LUCY_SECRET_KEY_ID: config.LUCY_SECRET_KEY_ID,
      })
    : undefined;
  const runtime = await createServiceRuntime({
    service: 'ingest-sial',
    settings: config,
    orm: ingestOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { logger, names, nats } = runtime;
  const knex = runtime.orm.em.getKnex();
  // The SIAL credentials staff store in the Configuración over SIAL_USER/SIAL_PASSWORD, read at each request.
  const sialCredentials = createSialCredentialStore({
    knex,
    box,
    defaults: { user: config.SIAL_USER, password: config.SIAL_PASSWORD },
    onError: (err) =>
      logger.warn(
        { err },
        'stored SIAL credentials unavailable; using SIAL_USER/SIAL_PASSWORD or the last ones read',
      ),
  });
  try {
    await sialCredentials.load();
  } catch (err) {
    await runtime.close();
    throw err;
  }
  sialCredentials.start(config.SIAL_CREDENTIALS_REFRESH_MS);
  const sialFor = (requestsPerSecond: number, onRetry?: SialClientOptions['onRetry']) =>
    createSialClient({
      baseUrl: config.SIAL_BASE_URL,
      credentials: () => sialCredentials.current(),
      timeoutMs: config.SIAL_TIMEOUT_MS,
      retries: config.SIAL_RETRIES,
      ...(requestsPerSecond > 0 ? { requestsPerSecond } : {}),
      onRetry: (info) => {
        logger.warn(
          { path: info.path, attempt: info.attempt, delayMs: info.delayMs, err: info.error.message },
          'retrying SIAL request',
        );
        onRetry?.(info);
      },
    });
  const workers = createIngestWorkers({
    knex,
    nats,
    names,
    buckets: runtime.buckets,
    logger,
    worker: runtime.workerId,
    clock,
    sialFor,
    concurrency: config.SIAL_CONCURRENCY,
    maxAttempts: config.INGEST_MAX_ATTEMPTS,
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
  });
  // identity-teams' account events onto the alumno (email_institucional, *_procesado).
  const projection = createCuentaProjection({ knex, nats, names, logger });
  let rpc: RpcServer | undefined;
  try {
    // The port first: a taken port must fail the start before any command is consumed (a consumer that took a
    // command and then died with the process would hold it until its ack deadline).
    rpc = await startRpcServer({
      ...rpcListenOptions(config),
      token: config.RPC_TOKEN,
      readiness: runtime.readiness,
      logger,
      services: [IngestService, AlumnoService],
      routes: (router) => {
        router.service(IngestService, {
          ...createIngestRpc({
            knex,
            publisher: runtime.publisher,
            clock,
            sialCredentials,
            log: (entry) => publishLog(nats.js, names, entry, undefined, clock),
            plan: {
              events: createBatchPublisher(nats.nc),
              names,
              logger,
              sialFor,
              concurrency: config.SIAL_CONCURRENCY,
            },
          }),
          ...createImportConfiguracionRpc({ knex, clock, sialView: () => sialCredentials.view() }),
        });
        router.service(AlumnoService, {
          ...createAlumnoRpc({ knex, nats, names, clock, maxExportRows: config.EXPORT_MAX_ROWS }),
          ...createImportAlumnosRpc({ knex, nats, names, clock }),
          ...createCarrerasRpc({ knex }),
        });
      },
    });
    for (const w of workers) await w.start();
    await projection.start();
    logger.info({ port: rpc.port }, 'ingest-sial started');
    const server = rpc;
    return {
      runtime,
      logger,
      knex,
      rpc: server,
      workers,
      sialCredentials,
      async stop() {
        await server.close();
        await Promise.all(workers.map((w) => w.stop()));
        await projection.stop();
        sialCredentials.stop();
        await runtime.close();
      },
    };
  } catch (err) {
    sialCredentials.stop();
    await rpc?.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await projection.stop().catch(() => undefined);
    await runtime.close();
    throw err;
  }
}
