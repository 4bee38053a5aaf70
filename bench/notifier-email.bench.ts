// Issue 11, "Performance": N credential e-mails end to end — EnviarEmailCommand published on NATS, the notifier
// looks the alumno up and resolves the password over RPC, renders the credentials template, records the delivery,
// sends it over SMTP to the sink, records the acceptance — until the sink has received every one.
// The notifier (compiled as production runs it; SERVICE_RUNTIME=tsx for the sources) and the SMTP sink
// (services/fake-smtp) each run in a process of their own; the lookups are a Connect server in this process
// (the AlumnoService.GetAlumno and IdentityService.ResolveCredential methods the notifier calls). The service's
// RSS comes from /proc/<pid>/status (VmRSS sampled every 100 ms, VmHWM for the peak) and its CPU from
// /proc/<pid>/stat.
//
//   node node_modules/tsx/dist/cli.mjs bench/notifier-email.bench.ts   # N=1000 CONCURRENCY=16 SMTP_CONNECTIONS=5
//   (RESULT=<name> writes bench/results/<name>.json; SERVICE_NODE_FLAGS for the service, e.g. --cpu-prof)
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import {
  CONTENT_TYPE,
  createCommandPublisher,
  createOrm,
  createRpcClient,
  encode,
  startRpcServer,
} from '@lucy/platform';
import {
  AlumnoSchema,
  AlumnoService,
  EnviarEmailCommandSchema,
  IdentityService,
  NotifierService,
  TipoEmail,
} from '@lucy/proto';
import { createTestDatabase, createTestNats, TEST_TOKEN, testEnv, testLogger } from '@lucy/testkit';
import { notifierOrm } from '@lucy/notifier';
import { processMeter, round, serviceNodeArgs, serviceRuntime, writeResult } from './lib.js';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.N ?? 1000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const SMTP_CONNECTIONS = Number(process.env.SMTP_CONNECTIONS ?? 5);
const TARGET_PER_SECOND = 200;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
const procMb = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
};
const procCpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The alumnos and their credentials, served by the directory double.
const alumnoId = (i: number) => `0193a1b2-0000-7000-8000-${String(i).padStart(12, '0')}`;
const directory = await startRpcServer({
  port: 0,
  host: '127.0.0.1',
  token: TEST_TOKEN,
  readiness: [],
  logger: testLogger('bench-directory'),
  services: [AlumnoService, IdentityService],
  routes: (router) => {
    router.service(AlumnoService, {
      getAlumno(req) {
        const i = Number(req.id.slice(-12));
        if (req.id !== alumnoId(i)) throw new ConnectError('no encontrado', Code.NotFound);
        return {
          alumno: create(AlumnoSchema, {
            id: req.id,
            dni: String(40_000_000 + i),
            nombre: 'Ana María',
            apellido: `Pérez ${i}`,
            emailPersonal: `alumno${i}@gmail.com`,
          }),
        };
      },
    });
    router.service(IdentityService, {
      resolveCredential(req) {
        const i = Number(req.alumnoId.slice(-12));
        return { upn: `test-${40_000_000 + i}@eco.unrc.edu.ar`, password: `Temporal-${i}#x` };
      },
    });
  },
});

const smtpPort = await freePort();
const smtpHttpPort = await freePort();
const children: ChildProcess[] = [];
const sink = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'src/main.ts'], {
  cwd: join(ROOT, 'services/fake-smtp'),
  env: {
    ...process.env,
    FAKE_SMTP_PORT: String(smtpPort),
    FAKE_SMTP_HTTP_PORT: String(smtpHttpPort),
    FAKE_SMTP_MAX_MESSAGES: String(N + 100),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
children.push(sink);
const sinkApi = `http://127.0.0.1:${smtpHttpPort}`;
const received = async (): Promise<number> => {
  const res = await fetch(`${sinkApi}/api/messages?limit=1`);
  return ((await res.json()) as { total: number }).total;
};

const db = await createTestDatabase('bench_notifier');
const t = await createTestNats();
const rpcPort = await freePort();
// SERVICE_NODE_FLAGS: extra node flags for the service only (a heap limit, --cpu-prof), recorded with the result.
const SERVICE_NODE_FLAGS = (process.env.SERVICE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, serviceNodeArgs('main', SERVICE_NODE_FLAGS), {
  cwd: join(ROOT, 'services/notifier'),
  env: {
    ...process.env,
    ...testEnv({
      DATABASE_URL: db.url,
      LUCY_PREFIX: t.prefix,
      MIGRATE_ON_START: 'true',
      RPC_PORT: String(rpcPort),
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpPort),
      SMTP_MAX_CONNECTIONS: String(SMTP_CONNECTIONS),
      IDENTITY_RPC_URL: directory.url,
      INGEST_RPC_URL: directory.url,
      NOTIFY_CONCURRENCY: String(CONCURRENCY),
    }),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
children.push(child);
const pid = child.pid!;
const orm = await createOrm({ url: db.url, ...notifierOrm });
let stopping: Promise<void> | undefined;
const cleanup = () =>
  (stopping ??= (async () => {
    for (const c of children) {
      if (c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    await orm.close(true).catch(() => undefined);
    await directory.close().catch(() => undefined);
    await t.cleanup().catch(() => undefined);
    await db.drop().catch(() => undefined);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().then(() => process.exit(130)));

try {
  // Ready when both answer (the notifier's migrations applied and its worker started).
  const notifier = createRpcClient(NotifierService, {
    baseUrl: `http://127.0.0.1:${rpcPort}`,
    token: TEST_TOKEN,
  });
  for (let i = 0; ; i++) {
    try {
      await notifier.listPlantillas({});
      await received();
      break;
    } catch (err) {
      if (i > 600 || child.exitCode !== null) throw err;
      await sleep(100);
    }
  }
  const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
  const commands = Array.from({ length: N }, (_, i) =>
    publisher.prepare(
      'lucy.cmd.notify.enviar_email',
      encode(
        EnviarEmailCommandSchema,
        create(EnviarEmailCommandSchema, {
          alumnoId: alumnoId(i),
          tipo: TipoEmail.CREDENCIALES,
          credentialRef: `cred-${i}`,
        }),
        CONTENT_TYPE.protobuf,
      ),
      CONTENT_TYPE.protobuf,
      { taskType: 'alumnos.tasks.enviar_email_credenciales', requestedBy: 'bench', trigger: 'admin' },
    ),
  );

  let peakRss = procMb(pid, 'VmRSS');
  const rssAtStart = peakRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, procMb(pid, 'VmRSS'));
  }, 100);
  const cpu0 = procCpuSeconds(pid);
  // The other processes on the path: the sink (SMTP parsing) and this one (the directory double, the count).
  const sinkMeter = processMeter(sink.pid!); // tsx runs the sink in a child process: the whole tree
  sinkMeter.start();
  const benchCpu0 = process.cpuUsage();
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const acks = await publisher.publishPrepared(commands);
  const lost = acks.filter((a) => a instanceof Error);
  if (lost.length > 0) throw new Error(`${lost.length} commands not stored: ${String(lost[0])}`);
  const publishedMs = performance.now() - t0;
  let firstAt: number | undefined;
  for (;;) {
    const got = await received();
    if (got > 0) firstAt ??= performance.now();
    if (got >= N) break;
    if (performance.now() - t0 > 300_000) throw new Error(`only ${got} of ${N} e-mails after 300 s`);
    await sleep(25);
  }
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const cpuSeconds = procCpuSeconds(pid) - cpu0;
  const sinkUsage = sinkMeter.stop();
  const benchCpu = process.cpuUsage(benchCpu0);
  const knex = orm.em.getKnex();
  const counted: unknown = await knex.raw(
    `select estado, count(*)::int as n from notify.entrega group by estado`,
  );
  const rows = (counted as { rows: { estado: string; n: number }[] }).rows;
  const perSecond = round(N / seconds);
  writeResult(process.env.RESULT ?? 'notifier-email', {
    service: 'notifier',
    runtime: serviceRuntime(),
    serviceNodeFlags: SERVICE_NODE_FLAGS,
    n: N,
    concurrency: CONCURRENCY,
    smtpConnections: SMTP_CONNECTIONS,
    seconds: round(seconds),
    publishSeconds: round(publishedMs / 1000),
    firstEmailAfterSeconds: round(((firstAt ?? t0) - t0) / 1000),
    emailsPerSecond: perSecond,
    target: `>= ${TARGET_PER_SECOND}/s`,
    met: perSecond >= TARGET_PER_SECOND,
    serviceRssMb: { atStart: rssAtStart, peakSampled: peakRss, peakVmHWM: procMb(pid, 'VmHWM') },
    serviceCpu: { seconds: round(cpuSeconds), percentOfOneCore: round((cpuSeconds / seconds) * 100) },
    serviceCpuMsPerEmail: round((cpuSeconds * 1000) / N),
    sinkCpuSeconds: round((sinkUsage.cpuPercent / 100) * sinkUsage.seconds),
    benchProcessCpuSeconds: round((benchCpu.user + benchCpu.system) / 1e6),
    deliveries: Object.fromEntries(rows.map((r) => [r.estado, Number(r.n)])),
    loadavg1AtStart: round(load0),
    loadavg1AtEnd: round(loadavg()[0]!),
  });
} finally {
  await cleanup();
}
