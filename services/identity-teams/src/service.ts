import {
  createRpcClient,
  createServiceRuntime,
  rpcListenOptions,
  secretBoxFromConfig,
  startRpcServer,
  type CommandWorker,
  type EventConsumer,
  type Logger,
  type RpcServer,
  type ServiceRuntime,
} from '@lucy/platform';
import { AlumnoService, IdentityService, IngestService } from '@lucy/proto';
import type { Knex } from '@mikro-orm/postgresql';
import {
  createGraphClient,
  createIngestClient,
  createMoodleClient,
  realClock,
  type AdapterClock,
  type MoodleClient,
} from './adapters/index.js';
import { graphCredentialOf, type IdentityConfig } from './config.js';
import { createAlumnoDeletedConsumer } from './consumers/alumno-deleted.consumer.js';
import { createEmailEnviadoConsumer } from './consumers/email-enviado.consumer.js';
import { createIdentityWorkers } from './consumers/identity.consumer.js';
import { createOperationRunner } from './consumers/operation.run.js';
import { createPgWriteLimiter, createVault, identityOrm } from './db/index.js';
import { identityMetrics } from './metrics.js';
import { createIdentityRpc } from './rpc/identity.rpc.js';
import { createConfigRpc } from './rpc/config.rpc.js';
import { createImportCuentasRpc } from './rpc/import.rpc.js';
import { boundIdentityRpc } from './rpc/input.js';
import { createIdentitySettings, type IdentitySettings } from './settings.js';

/** Options of {@link startIdentityService} (tests and benchmarks). */
export interface IdentityServiceOptions {
  clock?: () => Date;
  /** Clock of the Graph/Moodle adapters and the write bucket (retries, Retry-After). */
  adapterClock?: AdapterClock;
  logger?: Logger;
  /** Delay before redelivering a transiently failed task; default the worker's exponential backoff. */
  backoffMs?: (attempt: number) => number;
}

/** A running identity-teams. */
export interface IdentityServiceHandle {
  readonly runtime: ServiceRuntime;
  readonly logger: Logger;
  readonly knex: Knex;
  readonly rpc: RpcServer;
  readonly workers: readonly CommandWorker[];
  stop(): Promise<void>;
}

/** Starts identity-teams: runtime, Graph and Moodle clients, the vault, the workers and the RPC server. */
export async function startIdentityService(
  config: IdentityConfig,
  options: IdentityServiceOptions = {},
): Promise<IdentityServiceHandle> {
  const clock = options.clock ?? (() => new Date());
  const adapterClock = options.adapterClock ?? realClock;
  // Fails on bad keys before anything connects.
  const box = secretBoxFromConfig(config);
  const runtime = await createServiceRuntime({
    service: 'identity-teams',
    settings: config,
    orm: identityOrm,
    migrateOnStart: config.MIGRATE_ON_START,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const { logger, names, nats } = runtime;
  const knex = runtime.orm.em.getKnex();
  const workers: CommandWorker[] = [];
  const consumers: EventConsumer[] = [];
  let settings: IdentitySettings | undefined;
  let rpc: RpcServer | undefined;
  try {
    // The settings staff own (batch limit, UPN prefix, Moodle token, Graph client secret) over the deployment's;
    // read at each use.
    const staffSettings = createIdentitySettings({
      knex,
      box,
      defaults: {
        batchLimit: config.IDENTITY_BATCH_LIMIT,
        upnPrefix: config.IDENTITY_UPN_PREFIX,
        upnDomain: config.IDENTITY_UPN_DOMAIN,
        moodleToken: config.MOODLE_TOKEN,
        graphClientSecret: config.GRAPH_CLIENT_SECRET,
      },
      onError: (err) => logger.warn({ err }, 'identity settings reload failed; keeping the last ones'),
    });
    settings = staffSettings;
    await staffSettings.load();
    staffSettings.start(Math.max(config.IDENTITY_CONFIG_CACHE_MS, 1_000));
    const writeLimiter = await createPgWriteLimiter({
      knex,
      name: `graph:${config.GRAPH_TENANT_ID}:${config.GRAPH_CLIENT_ID}`,
      limit: config.GRAPH_WRITES_PER_WINDOW,
      windowMs: config.GRAPH_WRITE_WINDOW_MS,
      burst: config.GRAPH_WRITE_BURST,
      clock: adapterClock,
      onWait: (ms) => identityMetrics.writeWait.observe(ms / 1000),
    });
    const graph = createGraphClient({
      tenantId: config.GRAPH_TENANT_ID,
      clientId: config.GRAPH_CLIENT_ID,
      // The secret staff stored, else the deployment's, read at each token request (a replaced one is used
      // from the next Graph call on); a certificate credential ignores both.
      ...graphCredentialOf(config, () => staffSettings.graphClientSecret),
      ...(config.GRAPH_AUTHORITY_HOST ? { authorityHost: config.GRAPH_AUTHORITY_HOST } : {}),
      ...(config.GRAPH_BASE_URL ? { baseUrl: config.GRAPH_BASE_URL } : {}),
      maxRetries: config.GRAPH_MAX_RETRIES,
      writeLimiter,
      safeDeletePrefix: config.GRAPH_SAFE_DELETE_PREFIX,
      clock: adapterClock,
      logger,
    });
    const moodleClient: MoodleClient | undefined = config.MOODLE_URL
      ? createMoodleClient({
          baseUrl: config.MOODLE_URL,
          // Read at each request: a token staff replace is used from the next call on.
          get token() {
            return staffSettings.moodleToken;
          },
          clock: adapterClock,
          logger,
        })
      : undefined;
    // Moodle takes part while it has a URL and a token: a token staff set later (none at start) counts from the
    // next operation on, without a restart.
    const moodle = (): MoodleClient | undefined =>
      moodleClient && staffSettings.moodleToken ? moodleClient : undefined;
    const rpcOptions = { baseUrl: config.INGEST_RPC_URL, token: config.INGEST_RPC_TOKEN ?? config.RPC_TOKEN };
    const ingest = createIngestClient({
      alumnos: createRpcClient(AlumnoService, rpcOptions),
      ingest: createRpcClient(IngestService, rpcOptions),
      cacheMs: config.IDENTITY_CONFIG_CACHE_MS,
    });
    const vault = createVault({ knex, box, clock });
    const runner = createOperationRunner({
      knex,
      js: nats.js,
      names,
      publisher: runtime.publisher,
      logger,
      clock,
      graph,
      get moodle() {
        return moodle();
      },
      moodleAuth: config.MOODLE_AUTH,
      vault,
      ingest,
      get upnPrefix() {
        return staffSettings.upnPrefix;
      },
      upnDomain: config.IDENTITY_UPN_DOMAIN,
      studentSku: config.GRAPH_STUDENT_SKU,
      safeDeletePrefix: config.GRAPH_SAFE_DELETE_PREFIX,
      massDelete: { max: config.IDENTITY_MASS_DELETE_MAX, windowMs: config.IDENTITY_MASS_DELETE_WINDOW_MS },
      leaseMs: config.IDENTITY_ACK_WAIT_MS,
    });
    workers.push(
      ...createIdentityWorkers({
        nats,
        names,
        buckets: runtime.buckets,
        logger,
        worker: runtime.workerId,
        runner,
        concurrency: config.IDENTITY_CONCURRENCY,
        ackWaitMs: config.IDENTITY_ACK_WAIT_MS,
        maxAttempts: config.IDENTITY_MAX_ATTEMPTS,
        ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
      }),
    );
    consumers.push(
      createAlumnoDeletedConsumer({ nats, names, logger, knex, publisher: runtime.publisher }),
      createEmailEnviadoConsumer({ nats, names, logger, knex, vault, clock }),
    );
    // The port first: a taken port must fail the start before any command is consumed (a consumer that took a
    // command and then died with the process would hold it until its ack deadline).
    rpc = await startRpcServer({
      ...rpcListenOptions(config),
      token: config.RPC_TOKEN,
      readiness: runtime.readiness,
      logger,
      services: [IdentityService],
      routes: (router) => {
        router.service(IdentityService, {
          ...boundIdentityRpc(
            createIdentityRpc({
              knex,
              js: nats.js,
              names,
              publisher: runtime.publisher,
              vault,
              ingest,
              clock,
              get batchLimit() {
                return staffSettings.batchLimit;
              },
              revealEnabled: config.IDENTITY_REVEAL_ENABLED,
              adminToken: config.IDENTITY_ADMIN_TOKEN,
            }),
          ),
          ...createImportCuentasRpc({
            knex,
            nc: nats.nc,
            names,
            clock,
            get upnPrefix() {
              return staffSettings.upnPrefix;
            },
            upnDomain: config.IDENTITY_UPN_DOMAIN,
          }),
          ...createConfigRpc({
            knex,
            js: nats.js,
            names,
            ingest,
            settings: staffSettings,
            clock,
            upnDomain: config.IDENTITY_UPN_DOMAIN,
            safeDeletePrefix: config.GRAPH_SAFE_DELETE_PREFIX,
            graphUsesCertificate: 'clientCertificate' in graphCredentialOf(config),
            moodleConfigured: () => moodle() !== undefined,
          }),
        });
      },
    });
    for (const w of workers) await w.start();
    for (const c of consumers) await c.start();
    const server = rpc;
    logger.info({ port: server.port, moodle: moodle() !== undefined }, 'identity-teams started');
    return {
      runtime,
      logger,
      knex,
      rpc: server,
      workers,
      async stop() {
        staffSettings.stop();
        await server.close();
        await Promise.all([...workers.map((w) => w.stop()), ...consumers.map((c) => c.stop())]);
        await runtime.close();
      },
    };
  } catch (err) {
    settings?.stop();
    await rpc?.close().catch(() => undefined);
    await Promise.all([
      ...workers.map((w) => w.stop().catch(() => undefined)),
      ...consumers.map((c) => c.stop().catch(() => undefined)),
    ]);
    await runtime.close();
    throw err;
  }
}
