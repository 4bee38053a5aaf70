// The admin-action latency of bench/pipeline.bench.ts (issue 14): how long identity-teams' `Enqueue` of 50
// activations takes to answer ("📋 50 tareas programadas"), measured from a client over the RPC port. identity-teams
// runs compiled in a process of its own (as production runs it); ingest-sial (the alumnos, asked over RPC by
// Enqueue) and the SIAL, Graph and Moodle fakes run in this process, on a database and stream prefix of their own.
// Each round enqueues 50 alumnos not enqueued before, so every answer publishes 50 real commands; the
// activations they start run meanwhile in identity-teams, as they would while staff keep clicking.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { loadConfig, startIngestService } from '@lucy/ingest-sial';
import { createCommandPublisher, createRpcClient } from '@lucy/platform';
import {
  AlumnoService,
  Estado,
  IdentityService,
  IngestarCommandSchema,
  IngestService,
  TipoIngesta,
} from '@lucy/proto';
import { createTestDatabase, createTestNats, TEST_TOKEN, testEnv, testLogger } from '@lucy/testkit';
import { createFakeGraph } from '../services/fake-graph/src/index.js';
import { generateCertificate } from '../services/fake-graph/src/tls.js';
import { createFakeMoodle } from '../services/fake-moodle/src/index.js';
import { createFakeSial } from '../services/fake-sial/src/index.js';
import { round, serviceNodeArgs, summarize } from './lib.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const PER_ENQUEUE = 50;

const freePort = () =>
  new Promise<number>((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => ok(typeof a === 'object' && a ? a.port : 0));
    });
  });

const DOMAIN = 'alumnos.example.edu.ar';

/** `rounds` Enqueues of 50 activations each, one after another; their answer times. */
export async function enqueuePhase(rounds: number): Promise<Record<string, unknown>> {
  const needed = (rounds + 1) * PER_ENQUEUE;
  const tls = await generateCertificate();
  const certFile = join(tmpdir(), `bench-pipeline-graph-${process.pid}.pem`);
  writeFileSync(certFile, tls.cert);
  const graph = await createFakeGraph({ port: 0, tls, domains: [DOMAIN] });
  const moodle = await createFakeMoodle({ port: 0 });
  const sial = await createFakeSial({
    sizes: { preinscriptos: 1, aspirantes: Math.ceil(needed * 1.2) + 20, ingresantes: 1 },
  });
  const db = await createTestDatabase('pipeline_enqueue');
  const t = await createTestNats();
  const ingest = await startIngestService(
    loadConfig(
      testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: t.prefix,
        MIGRATE_ON_START: 'true',
        SIAL_BASE_URL: sial.url,
        SIAL_USER: 'usuario',
        SIAL_PASSWORD: 'contrasena',
        LOG_LEVEL: 'warn',
      }),
    ),
    { logger: testLogger('ingest-sial') },
  );
  const port = await freePort();
  const child = spawn(process.execPath, serviceNodeArgs('main'), {
    cwd: join(import.meta.dirname, '../services/identity-teams'),
    env: {
      ...process.env,
      ...testEnv({
        DATABASE_URL: db.url,
        LUCY_PREFIX: t.prefix,
        MIGRATE_ON_START: 'true',
        RPC_PORT: String(port),
        METRICS_PORT: '0',
        LOG_LEVEL: 'warn',
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
        NODE_EXTRA_CA_CERTS: certFile,
      }),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const rpc = { baseUrl: ingest.rpc.url, token: TEST_TOKEN };
    await createRpcClient(IngestService, rpc).updateConfiguracion({
      configuracion: {
        ventanas: [TipoIngesta.ASPIRANTES, TipoIngesta.INGRESANTES].map((tipo) => ({
          tipo,
          diaInicio: timestampFromDate(new Date(Date.now() - 3_600_000)),
          activarTeams: true,
          activarMoodle: true,
          enviarEmail: true,
        })),
      },
      requestedBy: 'bench',
    });
    await createCommandPublisher(t.handles.js, t.names).publish(
      'lucy.cmd.ingest.ingestar_aspirantes',
      IngestarCommandSchema,
      {},
      { taskType: 'alumnos.tasks.ingestar_aspirantes', requestedBy: 'bench', trigger: 'schedule' },
    );
    const alumnoRpc = createRpcClient(AlumnoService, rpc);
    const deadline = Date.now() + 180_000;
    let alumnos: Awaited<ReturnType<typeof alumnoRpc.listAlumnos>>['alumnos'] = [];
    for (;;) {
      alumnos = [];
      let pageToken = '';
      do {
        const res = await alumnoRpc.listAlumnos({ page: { pageSize: 500, pageToken } });
        alumnos.push(...res.alumnos);
        pageToken = res.page?.nextPageToken ?? '';
      } while (pageToken);
      const ready = (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok;
      if (alumnos.length >= needed && ready) break;
      if (child.exitCode !== null) throw new Error(`identity-teams exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('ingestion or identity-teams not ready in 180 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    const identity = createRpcClient(IdentityService, {
      baseUrl: `http://127.0.0.1:${port}`,
      token: TEST_TOKEN,
    });
    const pool = alumnos.filter((a) => a.emailPersonal !== '' && a.estado !== Estado.PREINSCRIPTO);
    if (pool.length < needed)
      throw new Error(`only ${pool.length} alumnos can be enqueued; ${needed} needed`);
    const take = () => pool.splice(0, PER_ENQUEUE).map((a) => a.id);
    const enqueue = (ids: string[]) =>
      identity.enqueue({ alumnoIds: ids, taskName: ACTIVAR, requestedBy: 'bench' });
    await enqueue(take()); // warm-up: connections, caches, JIT
    const latencies: number[] = [];
    let programadas = 0;
    const loadAtStart = round(loadavg()[0]!);
    for (let i = 0; i < rounds; i++) {
      const ids = take();
      const t0 = performance.now();
      const res = await enqueue(ids);
      latencies.push(performance.now() - t0);
      programadas += res.resultados.filter((r) => r.estado === 'programada').length;
    }
    return {
      rounds,
      activationsPerEnqueue: PER_ENQUEUE,
      latencyMs: summarize(latencies),
      programadas,
      allProgramadas: programadas === rounds * PER_ENQUEUE,
      targetP95Ms: 50,
      loadavg1AtStart: loadAtStart,
      loadavg1AtEnd: round(loadavg()[0]!),
    };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
    await ingest.stop();
    await t.cleanup();
    await db.drop();
    await Promise.all([graph.close(), moodle.close(), sial.close()]);
  }
}
