/**
 * A running identity-teams for integration tests: the Graph, Moodle and SIAL fakes, a real ingest-sial (the owner
 * of the alumnos, asked over RPC), the real NATS (a prefix of its own) and Postgres (a database of its own).
 */
import { randomBytes } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Client } from '@connectrpc/connect';
import { createFakeMoodle, type FakeMoodle } from '@lucy/fake-moodle';
import { createFakeSial } from '@lucy/fake-sial';
import type { FakeGraph, FakeGraphOptions } from '@lucy/fake-graph';
import {
  loadConfig as loadIngestConfig,
  startIngestService,
  type IngestServiceHandle,
} from '@lucy/ingest-sial';
import { createCommandPublisher, createRpcClient, H, type CommandPublisher } from '@lucy/platform';
import {
  AlumnoService,
  EnviarEmailCommandSchema,
  IdentityService,
  IngestarCommandSchema,
  IngestaManualCommandSchema,
  IngestService,
  TaskFailedSchema,
  TaskSkippedSchema,
  TaskSucceededSchema,
  TipoIngesta,
  type Alumno,
  type EnviarEmailCommand,
  type TaskFailed,
  type TaskSkipped,
  type TaskSucceeded,
} from '@lucy/proto';
import {
  createTestDatabase,
  createTestNats,
  TEST_TOKEN,
  testEnv,
  testLogger,
  waitFor,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
type Subscription = ReturnType<TestNats['handles']['nc']['subscribe']>;
import { loadConfig } from '../src/config.js';
import { startIdentityService, type IdentityServiceHandle } from '../src/service.js';
import { startGraphFake } from './support.js';

export const DOMAIN = 'alumnos.example.edu.ar';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

/** What a test may change. */
export interface HarnessOptions {
  label: string;
  aspirantes: number;
  graph?: FakeGraphOptions;
  /** identity-teams environment overrides. */
  env?: Record<string, string>;
  flags?: { activarTeams?: boolean; activarMoodle?: boolean; enviarEmail?: boolean };
  /** Do not start identity-teams in this process (the kill -9 test runs it as a child). */
  external?: boolean;
}

/** A task's last lifecycle event. */
export type Outcome =
  | { kind: 'succeeded'; event: TaskSucceeded }
  | { kind: 'failed'; event: TaskFailed }
  | { kind: 'skipped'; event: TaskSkipped };

export interface Harness {
  graph: FakeGraph;
  moodle: FakeMoodle;
  db: TestDatabase;
  t: TestNats;
  ingest: IngestServiceHandle;
  service: IdentityServiceHandle | undefined;
  /** identity-teams' environment (for a child process). */
  env: Record<string, string>;
  identity: Client<typeof IdentityService>;
  /** ingest-sial's AlumnoService. */
  alumnoRpc: Client<typeof AlumnoService>;
  ingestRpc: Client<typeof IngestService>;
  /** Runs the aspirantes ingestion again and waits for it. */
  reingest(): Promise<void>;
  alumnos: Alumno[];
  publisher: CommandPublisher;
  /** Final outcomes seen so far, by task id (a failed event that will retry is not final). */
  outcomes: Map<string, Outcome>;
  /** Every lifecycle and log event seen, raw, for secret scans. */
  seen: Uint8Array[];
  /** E-mail commands seen, by task id of the e-mail. */
  emails(): Promise<
    {
      taskId: string;
      parent: string | undefined;
      traceparent: string | undefined;
      command: EnviarEmailCommand;
    }[]
  >;
  waitOutcome(taskId: string, timeoutMs?: number): Promise<Outcome>;
  waitAll(taskIds: readonly string[], timeoutMs?: number): Promise<Outcome[]>;
  startService(): Promise<IdentityServiceHandle>;
  /** Stops identity-teams and starts it again with `changes` to its environment (undefined removes a variable). */
  restart(changes: Record<string, string | undefined>): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const graph = await startGraphFake({ domains: [DOMAIN], ...options.graph });
  const moodle = await createFakeMoodle({ port: 0 });
  const sial = await createFakeSial({
    sizes: { preinscriptos: 1, aspirantes: options.aspirantes, ingresantes: 1 },
  });
  const db = await createTestDatabase(options.label);
  const t = await createTestNats();
  const outcomes = new Map<string, Outcome>();
  const seen: Uint8Array[] = [];
  const subs: Subscription[] = [];
  const collect = (
    subject: string,
    onMsg: (subject: string, taskId: string | undefined, data: Uint8Array) => void,
  ) => {
    const sub = t.handles.nc.subscribe(t.names.full(subject));
    subs.push(sub);
    void (async () => {
      for await (const m of sub) onMsg(m.subject, m.headers?.get(H.taskId) || undefined, m.data);
    })();
  };
  collect('lucy.evt.>', (subject, taskId, data) => {
    seen.push(data);
    if (!taskId) return;
    if (subject.endsWith('.task.succeeded'))
      outcomes.set(taskId, { kind: 'succeeded', event: fromBinary(TaskSucceededSchema, data) });
    else if (subject.endsWith('.task.skipped'))
      outcomes.set(taskId, { kind: 'skipped', event: fromBinary(TaskSkippedSchema, data) });
    else if (subject.endsWith('.task.failed')) {
      const event = fromBinary(TaskFailedSchema, data);
      if (!event.willRetry) outcomes.set(taskId, { kind: 'failed', event });
    }
  });
  collect('lucy.cmd.>', (_s, _t, data) => seen.push(data));

  const ingest = await startIngestService(
    loadIngestConfig(
      testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: t.prefix,
        MIGRATE_ON_START: 'true',
        SIAL_BASE_URL: sial.url,
        SIAL_RETRIES: '0',
        SIAL_USER: 'usuario',
        SIAL_PASSWORD: 'contrasena',
      }),
    ),
    { logger: testLogger('ingest-sial') },
  );
  const rpc = { baseUrl: ingest.rpc.url, token: TEST_TOKEN };
  const ingestRpc = createRpcClient(IngestService, rpc);
  const alumnoRpc = createRpcClient(AlumnoService, rpc);
  const flags = options.flags ?? {};
  await ingestRpc.updateConfiguracion({
    configuracion: {
      ventanas: [TipoIngesta.ASPIRANTES, TipoIngesta.INGRESANTES].map((tipo) => ({
        tipo,
        diaInicio: timestampFromDate(new Date(Date.now() - 3_600_000)),
        activarTeams: flags.activarTeams ?? true,
        activarMoodle: flags.activarMoodle ?? true,
        enviarEmail: flags.enviarEmail ?? true,
      })),
    },
    requestedBy: 'test',
  });
  const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
  const { taskId: ingestTask } = await publisher.publish(
    'lucy.cmd.ingest.ingestar_aspirantes',
    IngestarCommandSchema,
    {},
    { taskType: 'alumnos.tasks.ingestar_aspirantes', requestedBy: 'test', trigger: 'schedule' },
  );
  const waitOutcome = (taskId: string, timeoutMs = 30_000) =>
    waitFor(() => outcomes.get(taskId), { timeoutMs, what: `outcome of ${taskId}`, intervalMs: 20 });
  const ingested = await waitOutcome(ingestTask, 60_000);
  if (ingested.kind !== 'succeeded') throw new Error(`ingestion did not succeed: ${ingested.kind}`);
  const alumnos = (await alumnoRpc.listAlumnos({ page: { pageSize: 500 } })).alumnos;

  const env = testEnv({
    DATABASE_URL: db.url,
    LUCY_PREFIX: t.prefix,
    MIGRATE_ON_START: 'true',
    LUCY_SECRET_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    GRAPH_TENANT_ID: graph.tenantId,
    GRAPH_CLIENT_ID: graph.app.clientId,
    GRAPH_CLIENT_SECRET: graph.app.clientSecret ?? '',
    GRAPH_AUTHORITY_HOST: graph.authorityHost,
    GRAPH_BASE_URL: graph.graphUrl,
    IDENTITY_UPN_DOMAIN: DOMAIN,
    MOODLE_URL: moodle.url,
    MOODLE_TOKEN: moodle.token,
    INGEST_RPC_URL: ingest.rpc.url,
    IDENTITY_CONFIG_CACHE_MS: '0',
    IDENTITY_ADMIN_TOKEN: ADMIN_TOKEN,
    ...options.env,
  });
  let service: IdentityServiceHandle | undefined;
  const startService = async () => {
    // A short backoff: a transient failure is retried within the test.
    service = await startIdentityService(loadConfig(env), {
      logger: testLogger('identity-teams'),
      backoffMs: () => 200,
    });
    return service;
  };
  if (!options.external) await startService();
  let client: { url: string; client: Client<typeof IdentityService> } | undefined;
  const identity = (): Client<typeof IdentityService> => {
    const url = service?.rpc.url ?? `http://127.0.0.1:${env.RPC_PORT}`;
    if (client?.url !== url)
      client = { url, client: createRpcClient(IdentityService, { baseUrl: url, token: TEST_TOKEN }) };
    return client.client;
  };

  return {
    graph,
    moodle,
    db,
    t,
    ingest,
    get service() {
      return service;
    },
    env,
    get identity() {
      return identity();
    },
    alumnoRpc,
    ingestRpc,
    async reingest() {
      const { taskId } = await publisher.publish(
        'lucy.cmd.ingest.ingesta_manual',
        IngestaManualCommandSchema,
        { tipo: TipoIngesta.ASPIRANTES },
        { taskType: 'alumnos.tasks.ingesta_manual', requestedBy: 'test', trigger: 'admin' },
      );
      const o = await waitOutcome(taskId, 60_000);
      if (o.kind !== 'succeeded') throw new Error(`re-ingestion did not succeed: ${o.kind}`);
    },
    alumnos,
    publisher,
    outcomes,
    seen,
    async emails() {
      const { readStream } = await import('@lucy/testkit');
      const stored = await readStream(
        t.handles,
        t.names.streams.cmd,
        t.names.full('lucy.cmd.notify.enviar_email'),
      );
      return stored.map((m) => ({
        taskId: m.header(H.taskId) ?? '',
        parent: m.header(H.parentTaskId),
        traceparent: m.header(H.traceparent),
        command: fromBinary(EnviarEmailCommandSchema, m.data),
      }));
    },
    waitOutcome,
    async waitAll(taskIds, timeoutMs = 60_000) {
      await waitFor(() => taskIds.every((id) => outcomes.has(id)), {
        timeoutMs,
        intervalMs: 50,
        what: `${taskIds.filter((id) => !outcomes.has(id)).length} of ${taskIds.length} outcomes`,
      });
      return taskIds.map((id) => outcomes.get(id)!);
    },
    startService,
    async restart(changes) {
      await service?.stop();
      for (const [k, v] of Object.entries(changes)) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      await startService();
    },
    async stop() {
      await service?.stop();
      for (const s of subs) s.unsubscribe();
      await ingest.stop();
      await t.cleanup();
      await db.drop();
      await Promise.all([graph.close(), moodle.close(), sial.close()]);
    },
  };
}
