// ingest-sial, whole runs from the fake SIAL on loopback: 100,000 new aspirantes (list + personal data), a re-run
// with nothing changed, and the new-records run again with 20 ms added to every fake response. The service
// (services/ingest-sial, compiled as production runs it) and the fake each run in a child process of their own; the service's RSS is
// read from /proc/<pid>/status: VmRSS sampled every 100 ms, and VmHWM (the kernel's high-water mark, reset before
// each run through /proc/<pid>/clear_refs) for the peak.
// Run: node node_modules/tsx/dist/cli.mjs bench/ingest-run.bench.ts
//   (env N=100000 CONCURRENCY=16 LATENCY_MS=20 LATENCY_CONCURRENCY=64 RUNS=full,rerun,latency RERUNS=1
//    SERVICE_NODE_FLAGS="--max-old-space-size=256" RESULT=ingest-run-heap256)
// RERUNS > 1 repeats the unchanged re-run (rerun2, rerun3, …); the target is judged on the first one. The fake
// answers a full list from its cache after the first request, as SIAL answers from its table.
// WAIT_LOAD=1.0: before each run, wait (up to 10 minutes) until the 1-minute load average is under it — the
// machine is shared, and the full run itself leaves it at ~2. Each run records its load at start and end.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { createOrm, createRpcClient, H } from '@lucy/platform';
import { IngestService, TaskFailedSchema, TaskSucceededSchema, TipoIngesta } from '@lucy/proto';
import { createTestDatabase, createTestNats, TEST_TOKEN, testEnv } from '@lucy/testkit';
import { ingestOrm } from '@lucy/ingest-sial';
import { round, serviceNodeArgs, serviceRuntime, writeResult } from './lib.js';
import { ROOT, startFakeProcess } from './ingest-dataset.js';

const N = Number(process.env.N ?? 100_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 20);
const LATENCY_CONCURRENCY = Number(process.env.LATENCY_CONCURRENCY ?? 64);
const RUNS = new Set((process.env.RUNS ?? 'full,rerun,latency').split(','));
const RERUNS = Number(process.env.RERUNS ?? 1);
const WAIT_LOAD = process.env.WAIT_LOAD ? Number(process.env.WAIT_LOAD) : undefined;

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** A field of /proc/<pid>/status in MB (VmRSS, VmHWM). */
const procMb = (pid: number, field: 'VmRSS' | 'VmHWM'): number => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return round(Number(line?.replace(/\D+/g, '') ?? 0) / 1024);
};
/** CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
const procCpuSeconds = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const fake = await startFakeProcess(N);
const db = await createTestDatabase('bench_ingest_run');
const t = await createTestNats();
const rpcPort = await freePort();
// The service as in production (compiled dist/main.js; SERVICE_RUNTIME=tsx for the sources, see bench/lib.ts), in
// a node process of its own, so the child's pid is the service's.
// SERVICE_NODE_FLAGS: extra node flags for the service only (e.g. a heap limit), recorded with the result.
const SERVICE_NODE_FLAGS = (process.env.SERVICE_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const child = spawn(process.execPath, serviceNodeArgs('main', SERVICE_NODE_FLAGS), {
  cwd: join(ROOT, 'services/ingest-sial'),
  env: {
    ...process.env,
    ...testEnv({
      DATABASE_URL: db.url,
      LUCY_PREFIX: t.prefix,
      MIGRATE_ON_START: 'true',
      SIAL_BASE_URL: fake.url,
      SIAL_USER: 'usuario',
      SIAL_PASSWORD: 'contrasena',
      SIAL_TIMEOUT_MS: '60000',
      RPC_PORT: String(rpcPort),
    }),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const pid = child.pid!;
const service = {
  stop: async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  },
};
const orm = await createOrm({ url: db.url, ...ingestOrm });
// Ctrl-C or SIGTERM still drops the database, the stream prefix and the fake.
let stopping: Promise<void> | undefined;
const cleanup = () =>
  (stopping ??= (async () => {
    await service.stop().catch(() => undefined);
    await orm.close(true).catch(() => undefined);
    await t.cleanup().catch(() => undefined);
    await db.drop().catch(() => undefined);
    await fake.stop().catch(() => undefined);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().then(() => process.exit(130)));
const ingest = createRpcClient(IngestService, { baseUrl: `http://127.0.0.1:${rpcPort}`, token: TEST_TOKEN });
// Ready when the RPC answers (migrations applied, consumers started).
for (let i = 0; ; i++) {
  try {
    await ingest.getConfiguracion({});
    break;
  } catch (err) {
    if (i > 600 || child.exitCode !== null) throw err;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves with the detalles of the task's succeeded event (rejects on failed), watched on core NATS. */
function outcome(taskId: Promise<string>): Promise<Record<string, unknown>> {
  const ok = t.handles.nc.subscribe(t.names.evt('task', 'succeeded'));
  const ko = t.handles.nc.subscribe(t.names.evt('task', 'failed'));
  return new Promise((resolve, reject) => {
    void taskId.then(async (id) => {
      const watch = async (sub: typeof ok, failed: boolean) => {
        for await (const m of sub) {
          if (m.headers?.get(H.taskId) !== id) continue;
          ok.unsubscribe();
          ko.unsubscribe();
          if (failed) reject(new Error(fromBinary(TaskFailedSchema, m.data).mensajeError.slice(0, 500)));
          else resolve(fromBinary(TaskSucceededSchema, m.data).detalles ?? {});
        }
      };
      await Promise.all([watch(ok, false), watch(ko, true)]);
    }, reject);
  });
}

async function run(label: string, concurrency: number) {
  await ingest.updateConfiguracion({
    configuracion: { sialConcurrencia: concurrency, sialRequestsPorSegundo: 0 },
    requestedBy: 'bench',
  });
  if (WAIT_LOAD !== undefined) {
    const giveUp = Date.now() + 600_000;
    while (loadavg()[0]! >= WAIT_LOAD && Date.now() < giveUp) await new Promise((r) => setTimeout(r, 5000));
  }
  const loadavg1AtStart = round(loadavg()[0]!);
  const before = await fake.requests();
  writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM
  let sampledPeak = procMb(pid, 'VmRSS');
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, procMb(pid, 'VmRSS'));
  }, 100);
  const cpu0 = procCpuSeconds(pid);
  const t0 = performance.now();
  let d: Record<string, unknown>;
  try {
    d = await outcome(
      ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'bench' }).then((r) => r.taskId),
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = round((performance.now() - t0) / 1000);
  const cpuPercent = round(((procCpuSeconds(pid) - cpu0) / seconds) * 100);
  const peakRssMb = Math.max(procMb(pid, 'VmHWM'), sampledPeak);
  const after = await fake.requests();
  const result = {
    label,
    records: Number(d.recibidos),
    seconds,
    recordsPerSecond: Math.round(Number(d.recibidos) / seconds),
    concurrency,
    personalDataRequests: after.personal - before.personal,
    listRequests: after.list - before.list,
    created: d.created,
    updated: d.updated,
    sin_cambios: d.sin_cambios,
    errors: d.errors,
    peakRssMb,
    sampledPeakRssMb: sampledPeak,
    cpuPercentOfOneCore: cpuPercent,
    loadavg1AtStart,
    loadavg1AtEnd: round(loadavg()[0]!),
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
  return result;
}

try {
  const baselineRssMb = procMb(pid, 'VmRSS');
  type Run = Awaited<ReturnType<typeof run>>;
  const runs: Record<string, Run> = {};
  if (RUNS.has('full') || RUNS.has('rerun'))
    runs.full = await run('new records, no added latency', CONCURRENCY);
  if (RUNS.has('rerun')) {
    runs.rerun = await run('re-run, nothing changed', CONCURRENCY);
    for (let k = 2; k <= RERUNS; k++) runs[`rerun${k}`] = await run('re-run again', CONCURRENCY);
    for (const [name, r] of Object.entries(runs).filter(([name]) => name.startsWith('rerun'))) {
      if (r.personalDataRequests !== 0)
        throw new Error(`the unchanged ${name} made ${r.personalDataRequests} personal-data requests`);
    }
  }
  if (RUNS.has('latency')) {
    // New records again, now with latency: forget the stored alumnos.
    await orm.em.getKnex().raw('truncate ingest.alumno');
    await fake.setFaults({ latencyMs: LATENCY_MS });
    runs.latency = await run(`new records, +${LATENCY_MS} ms per fake response`, LATENCY_CONCURRENCY);
    await fake.setFaults({ latencyMs: 0 });
  }
  const peak = Math.max(...Object.values(runs).map((r) => r.peakRssMb));
  writeResult(process.env.RESULT ?? 'ingest-run', {
    dataset: `fake SIAL (seed 1), ${N} aspirantes; first run creates all, personal data fetched for each`,
    rss: 'of the service process alone (in its own node process): peak = max(VmHWM, VmRSS sampled every 100 ms) from /proc/<pid>/status, VmHWM reset before each run',
    serviceNodeFlags: SERVICE_NODE_FLAGS.join(' '),
    runtime: serviceRuntime(),
    baselineRssMb,
    runs,
    targets: {
      rerunRecordsPerSecond: {
        target: 50_000,
        measured: runs.rerun?.recordsPerSecond,
        met: (runs.rerun?.recordsPerSecond ?? 0) >= 50_000,
      },
      peakRssMb: { target: 300, measured: peak, met: peak < 300 },
    },
  });
} finally {
  await cleanup();
}
