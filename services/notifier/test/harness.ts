/**
 * A running notifier against the SMTP sink, the real NATS and a database of its own, for integration tests. The
 * other services it calls (ingest-sial's AlumnoService, identity-teams' IdentityService.ResolveCredential) are
 * played by a real Connect server on a free port that implements just those two methods over a table of alumnos
 * and credentials the test controls.
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { createSmtpSink, type SmtpSink, type SmtpSinkOptions } from '@lucy/fake-smtp';
import { createCommandPublisher, createRpcClient, H, startRpcServer, type RpcServer } from '@lucy/platform';
import {
  AlumnoSchema,
  AlumnoService,
  EnviarEmailCommandSchema,
  IdentityService,
  NotifierService,
  TaskFailedSchema,
  TaskSucceededSchema,
  type TipoEmail,
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
import type { Logger } from '@lucy/platform';
import { loadConfig, type NotifierConfig } from '../src/config.js';
import { startNotifierService, type NotifierServiceHandle } from '../src/service.js';

/** An alumno as the fake registry returns it. */
export interface FakeAlumno {
  id: string;
  nombre: string;
  apellido: string;
  dni: string;
  emailPersonal?: string;
  emailInstitucional?: string;
}

/** A credential of the fake vault. */
export interface FakeCredential {
  alumnoId: string;
  upn: string;
  password: string;
  revoked?: boolean;
  /** The e-mail Tarea the reference was issued for (identity-teams binds it); unset: any. */
  taskId?: string;
}

/** The fake directory: the alumnos and credentials, and what was asked. */
export interface FakeDirectory {
  server: RpcServer;
  alumnos: Map<string, FakeAlumno>;
  credentials: Map<string, FakeCredential>;
  /** ResolveCredential requests received (ref, alumno, task). */
  resolved: { credentialRef: string; alumnoId: string; taskId: string }[];
  /** Makes the next N calls of both services fail with Unavailable. */
  failNext(n: number): void;
  close(): Promise<void>;
}

/** Starts the Connect server that plays ingest-sial's and identity-teams' lookups. */
export async function startFakeDirectory(): Promise<FakeDirectory> {
  const alumnos = new Map<string, FakeAlumno>();
  const credentials = new Map<string, FakeCredential>();
  const resolved: FakeDirectory['resolved'] = [];
  let failures = 0;
  const maybeFail = () => {
    if (failures > 0) {
      failures--;
      throw new ConnectError('servicio reiniciándose', Code.Unavailable);
    }
  };
  const server = await startRpcServer({
    port: 0,
    host: '127.0.0.1',
    token: TEST_TOKEN,
    readiness: [],
    logger: testLogger('fake-directory'),
    services: [AlumnoService, IdentityService],
    routes: (router) => {
      router.service(AlumnoService, {
        getAlumno(req) {
          maybeFail();
          const a = alumnos.get(req.id);
          if (!a) throw new ConnectError(`alumno ${req.id} no encontrado`, Code.NotFound);
          return {
            alumno: create(AlumnoSchema, {
              id: a.id,
              tipoDocumento: 'DNI',
              dni: a.dni,
              nombre: a.nombre,
              apellido: a.apellido,
              emailPersonal: a.emailPersonal ?? '',
              emailInstitucional: a.emailInstitucional ?? '',
            }),
          };
        },
      });
      router.service(IdentityService, {
        resolveCredential(req) {
          maybeFail();
          resolved.push({ credentialRef: req.credentialRef, alumnoId: req.alumnoId, taskId: req.taskId });
          const c = credentials.get(req.credentialRef);
          if (!c || c.alumnoId !== req.alumnoId) {
            throw new ConnectError('credencial desconocida', Code.NotFound);
          }
          if (c.taskId !== undefined && c.taskId !== req.taskId) {
            throw new ConnectError(
              'La referencia de credencial no corresponde a esa tarea de e-mail.',
              Code.PermissionDenied,
            );
          }
          if (c.revoked) throw new ConnectError('credencial revocada', Code.FailedPrecondition);
          return { upn: c.upn, password: c.password };
        },
      });
    },
  });
  return {
    server,
    alumnos,
    credentials,
    resolved,
    failNext(n) {
      failures = n;
    },
    close: () => server.close(),
  };
}

/** The pieces of a running test stack. */
export interface Harness {
  sink: SmtpSink;
  directory: FakeDirectory;
  db: TestDatabase;
  t: TestNats;
  config: NotifierConfig;
  service: NotifierServiceHandle;
  notifier: Client<typeof NotifierService>;
  /** Publishes `lucy.cmd.notify.enviar_email`; returns the task id. */
  enviar(
    command: { alumnoId: string; tipo: TipoEmail; upn?: string; credentialRef?: string; cursos?: string[] },
    options?: { taskId?: string; msgId?: string },
  ): Promise<string>;
  taskEvents(taskId: string, kind: string): Promise<StoredMessage[]>;
  succeeded(taskId: string): Promise<TaskSucceeded>;
  failed(taskId: string, finalOnly?: boolean): Promise<TaskFailed>;
  stop(): Promise<void>;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  env?: Record<string, string>;
  logger?: Logger;
  backoffMs?: (attempt: number) => number;
  /** Options of the SMTP sink, e.g. the AUTH credentials it requires. */
  sink?: SmtpSinkOptions;
}

/** Environment pointing a notifier at the harness' sink, directory, database and prefix. */
export function harnessEnv(
  parts: { sink: SmtpSink; directory: FakeDirectory; db: TestDatabase; t: TestNats },
  extra: Record<string, string> = {},
): Record<string, string> {
  return testEnv({
    DATABASE_URL: parts.db.url,
    LUCY_PREFIX: parts.t.prefix,
    MIGRATE_ON_START: 'true',
    SMTP_HOST: parts.sink.host,
    SMTP_PORT: String(parts.sink.port),
    SMTP_FROM: 'Facultad de Ciencias Económicas - UNRC <no-reply@v.eco.unrc.edu.ar>',
    SMTP_REPLY_TO: 'Soporte V.ECO <v.estudiantes@fce.unrc.edu.ar>',
    SMTP_CONNECTION_TIMEOUT_MS: '2000',
    SMTP_GREETING_TIMEOUT_MS: '2000',
    SMTP_SOCKET_TIMEOUT_MS: '5000',
    IDENTITY_RPC_URL: parts.directory.server.url,
    INGEST_RPC_URL: parts.directory.server.url,
    NOTIFY_RPC_TIMEOUT_MS: '3000',
    ...extra,
  });
}

/** Starts the sink, the fake directory, a database, a NATS prefix and the notifier. */
export async function startHarness(label: string, options: HarnessOptions = {}): Promise<Harness> {
  const sink = await createSmtpSink({ port: 0, maxMessages: 5000, ...options.sink });
  const directory = await startFakeDirectory();
  const db = await createTestDatabase(label);
  const t = await createTestNats();
  const config = loadConfig(harnessEnv({ sink, directory, db, t }, options.env));
  const service = await startNotifierService(config, {
    logger: options.logger ?? testLogger('notifier'),
    // Short by default: a transient failure is redelivered within the test.
    backoffMs: options.backoffMs ?? (() => 200),
  });
  const notifier = createRpcClient(NotifierService, { baseUrl: service.rpc.url, token: TEST_TOKEN });
  const publisher = createCommandPublisher(t.handles.js, t.names);

  async function taskEvents(taskId: string, kind: string): Promise<StoredMessage[]> {
    const all = await readStream(t.handles, t.names.streams.evt, t.names.evt('task', kind));
    return all.filter((m) => m.header(H.taskId) === taskId);
  }
  async function first(taskId: string, kind: string, accept: (m: StoredMessage) => boolean = () => true) {
    const [m] = await waitFor(
      async () => {
        const e = (await taskEvents(taskId, kind)).filter(accept);
        return e.length ? e : undefined;
      },
      { what: `${kind} event of ${taskId}`, timeoutMs: 15_000, intervalMs: 100 },
    );
    return m!;
  }

  return {
    sink,
    directory,
    db,
    t,
    config,
    service,
    notifier,
    async enviar(command, opts = {}) {
      const { taskId } = await publisher.publish(
        'lucy.cmd.notify.enviar_email',
        EnviarEmailCommandSchema,
        { upn: '', credentialRef: '', ...command },
        {
          taskType: 'alumnos.tasks.enviar_email_credenciales',
          requestedBy: 'identity-teams',
          trigger: 'admin',
          ...(opts.taskId ? { taskId: opts.taskId } : {}),
          ...(opts.msgId ? { msgId: opts.msgId } : {}),
        },
      );
      return taskId;
    },
    taskEvents,
    async succeeded(taskId) {
      return fromBinary(TaskSucceededSchema, (await first(taskId, 'succeeded')).data);
    },
    async failed(taskId, finalOnly = true) {
      const accept = (m: StoredMessage) => !finalOnly || !fromBinary(TaskFailedSchema, m.data).willRetry;
      return fromBinary(TaskFailedSchema, (await first(taskId, 'failed', accept)).data);
    },
    async stop() {
      await service.stop();
      await directory.close();
      await t.cleanup();
      await db.drop();
      await sink.close();
    },
  };
}
