// Issue 10, "Performance": N activations (activar_servicios_alumno) end to end against the fakes — command
// published, alumno read from ingest-sial over RPC, Graph user created and licensed, Moodle user, credentials
// e-mail command, account event — until N Tareas succeeded; then, with the default write limit, M more to show
// Graph writes stay under it. identity-teams and the Graph fake (HTTPS) run in processes of their own; ingest-sial
// (with the SIAL fake) and the Moodle fake run in this one. Service RSS and CPU from /proc.
//
//   node node_modules/tsx/dist/cli.mjs bench/identity-activation.bench.ts   # N=1000 M=150 CONCURRENCY=32
//   (SERVICE_RUNTIME=tsx runs the sources; RESULT=<name> writes bench/results/<name>.json)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { loadConfig, startIngestService } from '@lucy/ingest-sial';
import { createCommandPublisher, createRpcClient, encode, H, CONTENT_TYPE } from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  AlumnoService,
  IngestarCommandSchema,
  IngestService,
  TipoIngesta,
} from '@lucy/proto';
import { createTestDatabase, createTestNats, TEST_TOKEN, testEnv, testLogger } from '@lucy/testkit';
import { createFakeSial } from '../services/fake-sial/src/index.js';
import { createFakeMoodle } from '../services/fake-moodle/src/index.js';
import { processMeter, round, serviceNodeArgs, serviceRuntime, writeResult } from './lib.js';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.N ?? 1000);
const M = Number(process.env.M ?? 150);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const TARGET_PER_SECOND = 200;
// SERVICE_NODE_FLAGS: extra node flags for identity-teams only (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
const SERVICE_NODE_FLAGS = (process.env.SERVICE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const DEFAULT_LIMIT = 2400;
const WINDOW_MS = 150_000;

const freePort = () =>
  new Promise<number>((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });
const until = async (probe: () => boolean | Promise<boolean>, what: string, timeoutMs = 600_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const db = await createTestDatabase('bench_identity');
const t = await createTestNats();
const children: ChildProcess[] = [];
const succeeded = new Set<string>();
const sub = t.handles.nc.subscribe(t.names.full('lucy.evt.task.succeeded'));
void (async () => {
  for await (const m of sub) {
    const id = m.headers?.get(H.taskId);
    if (id) succeeded.add(id);
  }
})();

try {
  const sial = await createFakeSial({ sizes: { preinscriptos: 1, aspirantes: N + M, ingresantes: 1 } });
  const moodle = await createFakeMoodle({ port: 0 });
  const ingest = await startIngestService(
    loadConfig(
      testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: t.prefix,
        MIGRATE_ON_START: 'true',
        SIAL_BASE_URL: sial.url,
        SIAL_USER: 'usuario',
        SIAL_PASSWORD: 'contrasena',
      }),
    ),
    { logger: testLogger('ingest-sial') },
  );
  const rpc = { baseUrl: ingest.rpc.url, token: TEST_TOKEN };
  await createRpcClient(IngestService, rpc).updateConfiguracion({
    configuracion: {
      ventanas: [
        {
          tipo: TipoIngesta.ASPIRANTES,
          diaInicio: timestampFromDate(new Date(Date.now() - 3_600_000)),
          activarTeams: true,
          activarMoodle: true,
          enviarEmail: true,
        },
      ],
    },
    requestedBy: 'bench',
  });
  const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
  const ingestion = await publisher.publish(
    'lucy.cmd.ingest.ingestar_aspirantes',
    IngestarCommandSchema,
    {},
    { taskType: 'alumnos.tasks.ingestar_aspirantes', requestedBy: 'bench', trigger: 'schedule' },
  );
  await until(() => succeeded.has(ingestion.taskId), 'the ingestion');
  const alumnos: string[] = [];
  for (let token = ''; ;) {
    const page = await createRpcClient(AlumnoService, rpc).listAlumnos({
      page: { pageSize: 500, pageToken: token },
    });
    alumnos.push(...page.alumnos.map((a) => a.id));
    token = page.page?.nextPageToken ?? '';
    if (!token) break;
  }

  // The Graph fake over HTTPS, its quota set high: this run measures identity-teams' own limit.
  const graphPort = await freePort();
  const certFile = join(tmpdir(), `bench-fake-graph-${graphPort}.pem`);
  const graph = spawn(process.execPath, serviceNodeArgs('main'), {
    cwd: join(ROOT, 'services/fake-graph'),
    env: {
      ...process.env,
      FAKE_GRAPH_PORT: String(graphPort),
      FAKE_GRAPH_CERT_FILE: certFile,
      FAKE_GRAPH_KEY_FILE: `${certFile}.key`,
      FAKE_GRAPH_SEATS: String(N + M + 10),
      FAKE_GRAPH_WRITE_LIMIT: '1000000',
    },
    stdio: 'ignore',
  });
  children.push(graph);
  const graphState = () =>
    new Promise<{ users: number; writes: { total: number } }>((ok, fail) => {
      const req = request(
        { host: '127.0.0.1', port: graphPort, path: '/__fake/state', ca: readFileSync(certFile) },
        (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => ok(JSON.parse(body) as { users: number; writes: { total: number } }));
        },
      );
      req.on('error', fail);
      req.end();
    });
  await until(
    async () => (await graphState().catch(() => undefined)) !== undefined,
    'the Graph fake',
    120_000,
  );

  const startIdentity = async (limit: number, burst: number) => {
    const port = await freePort();
    const child = spawn(process.execPath, serviceNodeArgs('main', SERVICE_NODE_FLAGS), {
      cwd: join(ROOT, 'services/identity-teams'),
      env: {
        ...process.env,
        ...testEnv({ DATABASE_URL: db.url, LUCY_PREFIX: t.prefix }),
        RPC_PORT: String(port),
        METRICS_PORT: '0',
        MIGRATE_ON_START: 'true',
        LOG_LEVEL: 'warn',
        NODE_EXTRA_CA_CERTS: certFile,
        LUCY_SECRET_KEYS: `b1:${Buffer.alloc(32, 7).toString('base64')}`,
        GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
        GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
        GRAPH_CLIENT_SECRET: 'fake-graph-secret',
        GRAPH_AUTHORITY_HOST: `https://127.0.0.1:${graphPort}`,
        GRAPH_BASE_URL: `https://127.0.0.1:${graphPort}/v1.0`,
        GRAPH_WRITES_PER_WINDOW: String(limit),
        GRAPH_WRITE_BURST: String(burst),
        IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
        MOODLE_URL: moodle.url,
        MOODLE_TOKEN: moodle.token,
        INGEST_RPC_URL: ingest.rpc.url,
        IDENTITY_CONCURRENCY: String(CONCURRENCY),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true,
      'identity-teams',
      180_000,
    );
    return child;
  };
  const activate = async (ids: string[]) => {
    const prepared = ids.map((alumnoId) =>
      publisher.prepare(
        'lucy.cmd.identity.activar_servicios',
        encode(ActivarServiciosCommandSchema, { alumnoId }, CONTENT_TYPE.protobuf),
        CONTENT_TYPE.protobuf,
        { taskType: 'alumnos.tasks.activar_servicios_alumno', requestedBy: 'bench', trigger: 'admin' },
      ),
    );
    const t0 = performance.now();
    await publisher.publishPrepared(prepared);
    await until(() => prepared.every((p) => succeeded.has(p.taskId)), `${ids.length} activations`);
    return (performance.now() - t0) / 1000;
  };

  // 1. The limit set high: throughput.
  const fast = await startIdentity(1_000_000, 100_000);
  const meter = processMeter(fast.pid!);
  meter.start();
  const load0 = loadavg()[0]!;
  const seconds = await activate(alumnos.slice(0, N));
  const load1 = loadavg()[0]!;
  const usage = meter.stop();
  fast.kill('SIGTERM');
  await new Promise((r) => fast.once('exit', r));

  // 2. The default limit (2,400 per 150 s, burst 50): writes per second while M more run.
  const slow = await startIdentity(DEFAULT_LIMIT, 50);
  const before = (await graphState()).writes.total;
  const slowSeconds = await activate(alumnos.slice(N, N + M));
  const writes = (await graphState()).writes.total - before;
  slow.kill('SIGTERM');

  const perSecond = round(N / seconds);
  const writeRate = round(writes / slowSeconds);
  const allowedRate = round(DEFAULT_LIMIT / (WINDOW_MS / 1000));
  writeResult(process.env.RESULT ?? 'identity-activation', {
    runtime: serviceRuntime(),
    serviceNodeFlags: SERVICE_NODE_FLAGS,
    loadavg1AtStart: round(load0),
    loadavg1AtEnd: round(load1),
    n: N,
    concurrency: CONCURRENCY,
    activationsPerSecond: perSecond,
    seconds: round(seconds),
    target: TARGET_PER_SECOND,
    met: perSecond >= TARGET_PER_SECOND,
    service: usage,
    defaultLimit: {
      m: M,
      seconds: round(slowSeconds),
      writes,
      writesPerSecond: writeRate,
      allowedPerSecond: allowedRate,
      burst: 50,
      under: writes <= 50 + (DEFAULT_LIMIT - 50) * (slowSeconds / (WINDOW_MS / 1000)) + 1,
    },
  });
  await ingest.stop();
  await moodle.close();
  await sial.close();
} finally {
  for (const c of children) c.kill('SIGKILL');
  sub.unsubscribe();
  await t.cleanup();
  await db.drop();
}
