// ingest-sial, whole runs from the fake SIAL on loopback: 100,000 new aspirantes (list + personal data), a re-run
// with nothing changed, and the new-records run again with 20 ms added to every fake response. The service runs in
// this process (its peak RSS is sampled); the fake runs in a child process.
// Run: pnpm --filter @lucy/bench exec tsx ingest-run.bench.ts   (env N=100000 CONCURRENCY=16 LATENCY_CONCURRENCY=64)
import { fromBinary } from '@bufbuild/protobuf';
import { createRpcClient, H } from '@lucy/platform';
import { IngestService, TaskFailedSchema, TaskSucceededSchema, TipoIngesta } from '@lucy/proto';
import { createTestDatabase, createTestNats, TEST_TOKEN, testEnv, testLogger } from '@lucy/testkit';
import { loadConfig, startIngestService } from '../services/ingest-sial/src/index.js';
import { round, withResources, writeResult } from './lib.js';
import { startFakeProcess } from './ingest-dataset.js';

const N = Number(process.env.N ?? 100_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const LATENCY_MS = Number(process.env.LATENCY_MS ?? 20);
const LATENCY_CONCURRENCY = Number(process.env.LATENCY_CONCURRENCY ?? 64);

const fake = await startFakeProcess(N);
const db = await createTestDatabase('bench_ingest_run');
const t = await createTestNats();
const service = await startIngestService(
  loadConfig(
    testEnv({
      DATABASE_URL: db.url,
      LUCY_PREFIX: t.prefix,
      MIGRATE_ON_START: 'true',
      SIAL_BASE_URL: fake.url,
      SIAL_TIMEOUT_MS: '60000',
    }),
  ),
  { logger: testLogger('ingest-sial') },
);
// Ctrl-C or SIGTERM still drops the database, the stream prefix and the fake.
let stopping: Promise<void> | undefined;
const cleanup = () =>
  (stopping ??= (async () => {
    await service.stop().catch(() => undefined);
    await t.cleanup().catch(() => undefined);
    await db.drop().catch(() => undefined);
    await fake.stop().catch(() => undefined);
  })());
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void cleanup().then(() => process.exit(130)));
const ingest = createRpcClient(IngestService, { baseUrl: service.rpc.url, token: TEST_TOKEN });

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
  const before = await fake.requests();
  const measured = await withResources(() =>
    outcome(
      ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'bench' }).then((r) => r.taskId),
    ),
  );
  const after = await fake.requests();
  const d = measured.result;
  const result = {
    label,
    records: Number(d.recibidos),
    seconds: measured.seconds,
    recordsPerSecond: Math.round(Number(d.recibidos) / measured.seconds),
    concurrency,
    personalDataRequests: after.personal - before.personal,
    listRequests: after.list - before.list,
    creados: d.creados,
    actualizados: d.actualizados,
    sin_cambios: d.sin_cambios,
    total_errores: d.total_errores,
    peakRssMb: measured.peakRssMb,
    cpuPercentOfOneCore: measured.cpuPercent,
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
  return result;
}

try {
  const baselineRssMb = round(process.memoryUsage().rss / 1024 / 1024);
  const full = await run('new records, no added latency', CONCURRENCY);
  const rerun = await run('re-run, nothing changed', CONCURRENCY);
  if (rerun.personalDataRequests !== 0)
    throw new Error(`the unchanged re-run made ${rerun.personalDataRequests} personal-data requests`);

  // New records again, now with latency: forget the stored alumnos.
  await service.knex.raw('truncate ingest.alumno');
  await fake.setFaults({ latencyMs: LATENCY_MS });
  const slow = await run(`new records, +${LATENCY_MS} ms per fake response`, LATENCY_CONCURRENCY);
  await fake.setFaults({ latencyMs: 0 });

  writeResult('ingest-run', {
    dataset: `fake SIAL (seed 1), ${N} aspirantes; first run creates all, personal data fetched for each`,
    baselineRssMb,
    runs: { full, rerun, latency: slow },
    targets: {
      rerunRecordsPerSecond: {
        target: 50_000,
        measured: rerun.recordsPerSecond,
        met: rerun.recordsPerSecond >= 50_000,
      },
      peakRssMb: {
        target: 300,
        measured: Math.max(full.peakRssMb, rerun.peakRssMb, slow.peakRssMb),
        met: Math.max(full.peakRssMb, rerun.peakRssMb, slow.peakRssMb) < 300,
      },
    },
  });
} finally {
  await cleanup();
}
