/** A running ingest-sial against the fake SIAL, the real NATS and a database of its own, for integration tests. */
import { fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Client } from '@connectrpc/connect';
import { createFakeSial, type FakeSial, type FakeSialOptions } from '@lucy/fake-sial';
import { createCommandPublisher, createRpcClient, H } from '@lucy/platform';
import {
  AlumnoService,
  IngestarCommandSchema,
  IngestService,
  LogEventSchema,
  LogLevel,
  TaskFailedSchema,
  TaskSucceededSchema,
  type TipoIngesta,
  type LogEvent,
  type TaskFailed,
  type TaskSucceeded,
} from '@lucy/proto';
import {
  createTestDatabase,
  createTestNats,
  readStream,
  TEST_TOKEN,
  testEnv,
  testLogger,
  waitFor,
  type StoredMessage,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { loadConfig } from '../src/config.js';
import { startIngestService, type IngestServiceHandle } from '../src/service.js';

/** The pieces of a running test stack. */
export interface Harness {
  fake: FakeSial;
  db: TestDatabase;
  t: TestNats;
  service: IngestServiceHandle;
  ingest: Client<typeof IngestService>;
  alumnos: Client<typeof AlumnoService>;
  /** Publishes `lucy.cmd.ingest.ingestar_<tipo>` as the scheduler would; returns the task id. */
  runPeriodic(tipo: string): Promise<string>;
  /** Publishes the nightly reconciliation (`ingestar_<tipo>` with `reconciliar`) as the scheduler would. */
  runReconciliation(tipo: string): Promise<string>;
  /** The task's lifecycle events of one kind (`succeeded`, `failed`…). */
  taskEvents(taskId: string, kind: string): Promise<StoredMessage[]>;
  succeeded(taskId: string): Promise<TaskSucceeded>;
  /** The Log rows of a task, every level, in publication order. */
  logs(taskId: string): Promise<(LogEvent & { nivel: string })[]>;
  failed(taskId: string): Promise<TaskFailed>;
  /** Opens the window of a tipo from an hour ago (resets its checkpoint). */
  openWindow(tipo: TipoIngesta): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  /** Environment on top of the harness's (e.g. `SIAL_RETRIES`, `INGEST_MAX_ATTEMPTS`). */
  env?: Record<string, string>;
  /** Delay before a failed attempt is retried; default 120 s (observed once, not redelivered during a test). */
  backoffMs?: (attempt: number) => number;
}

/** Starts the fake, a database, a NATS prefix and the service. */
export async function startHarness(
  fakeOptions: FakeSialOptions,
  label: string,
  harness: HarnessOptions = {},
): Promise<Harness> {
  const fake = await createFakeSial(fakeOptions);
  const db = await createTestDatabase(label);
  const t = await createTestNats();
  const config = loadConfig(
    testEnv({
      DATABASE_URL: db.url,
      LUCY_PREFIX: t.prefix,
      MIGRATE_ON_START: 'true',
      SIAL_BASE_URL: fake.url,
      SIAL_USER: 'usuario',
      SIAL_PASSWORD: 'contrasena',
      SIAL_RETRIES: '0',
      SIAL_TIMEOUT_MS: '5000',
      ...harness.env,
    }),
  );
  // A long backoff by default: a transient failure is observed once and not redelivered during the test.
  const service = await startIngestService(config, {
    logger: testLogger('ingest-sial'),
    backoffMs: harness.backoffMs ?? (() => 120_000),
  });
  const options = { baseUrl: service.rpc.url, token: TEST_TOKEN };
  const ingest = createRpcClient(IngestService, options);
  const alumnos = createRpcClient(AlumnoService, options);
  const publisher = createCommandPublisher(t.handles.js, t.names);

  async function taskEvents(taskId: string, kind: string): Promise<StoredMessage[]> {
    const all = await readStream(t.handles, t.names.streams.evt, t.names.evt('task', kind));
    return all.filter((m) => m.header(H.taskId) === taskId);
  }
  async function first(taskId: string, kind: string): Promise<StoredMessage> {
    const [m] = await waitFor(
      async () => {
        const e = await taskEvents(taskId, kind);
        return e.length ? e : undefined;
      },
      { what: `${kind} event of ${taskId}`, timeoutMs: 20_000 },
    );
    return m!;
  }

  return {
    fake,
    db,
    t,
    service,
    ingest,
    alumnos,
    async runPeriodic(tipo) {
      const { taskId } = await publisher.publish(
        `lucy.cmd.ingest.ingestar_${tipo}`,
        IngestarCommandSchema,
        {},
        { taskType: `alumnos.tasks.ingestar_${tipo}`, requestedBy: 'scheduler', trigger: 'schedule' },
      );
      return taskId;
    },
    async runReconciliation(tipo) {
      const { taskId } = await publisher.publish(
        `lucy.cmd.ingest.ingestar_${tipo}`,
        IngestarCommandSchema,
        { reconciliar: true },
        { taskType: `alumnos.tasks.ingestar_${tipo}`, requestedBy: 'scheduler', trigger: 'schedule' },
      );
      return taskId;
    },
    taskEvents,
    async succeeded(taskId) {
      return fromBinary(TaskSucceededSchema, (await first(taskId, 'succeeded')).data);
    },
    async logs(taskId) {
      const all = await readStream(t.handles, t.names.streams.evt);
      const prefix = t.names.evt('log', '');
      return all
        .filter((m) => m.subject.startsWith(prefix) && m.header(H.taskId) === taskId)
        .map((m) => {
          const e = fromBinary(LogEventSchema, m.data);
          return Object.assign(e, { nivel: LogLevel[e.level] });
        });
    },
    async failed(taskId) {
      return fromBinary(TaskFailedSchema, (await first(taskId, 'failed')).data);
    },
    async openWindow(tipo) {
      await ingest.updateConfiguracion({
        configuracion: {
          ventanas: [{ tipo, diaInicio: timestampFromDate(new Date(Date.now() - 3600_000)) }],
        },
        requestedBy: 'test',
      });
    },
    async stop() {
      await service.stop();
      await t.cleanup();
      await db.drop();
      await fake.close();
    },
  };
}
