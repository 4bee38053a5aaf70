// task-tracker reads over a large history: GetDashboard, filtered first pages of ListTareas and searches, each
// called many times through the real RPC server (Connect over HTTP/2 on 127.0.0.1), p50/p95/p99 in ms.
//
//   node node_modules/tsx/dist/cli.mjs bench/tracker-queries.bench.ts [tareas=5000000] [calls=200]
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createOrm, createRpcClient, migrate } from '@lucy/platform';
import { TareaEstado, TareaTipo, TaskService } from '@lucy/proto';
import { createTestDatabase, createTestNats } from '@lucy/testkit';
import { trackerOrm } from '@lucy/task-tracker';
import { round, summarize, writeResult } from './lib.js';
import { generateTareas } from './tracker-dataset.js';
import { BENCH_TOKEN, startBenchTracker } from './tracker-harness.js';

const n = Number(process.argv[2] ?? 5_000_000);
const calls = Number(process.argv[3] ?? 200);
const DAY = 86_400_000;

const db = await createTestDatabase('tracker_bench');
const nats = await createTestNats();
try {
  const orm = await createOrm({ url: db.url, ...trackerOrm });
  await migrate(orm, trackerOrm.schema);
  const knex = orm.em.getKnex();

  const now = new Date();
  process.stderr.write(`generating ${n} Tareas…\n`);
  const t0 = performance.now();
  const steps = await generateTareas(knex, n, now);
  const generationSeconds = (performance.now() - t0) / 1000;
  process.stderr.write(`generated in ${round(generationSeconds)} s ${JSON.stringify(steps)}\n`);

  const facts = (
    await knex.raw<{ rows: Array<{ size: string; dnis: string[] }> }>(
      `select pg_size_pretty(pg_total_relation_size('tracker.tarea')) as size,
              (select array_agg(dni) from (select dni from tracker.alumno_ref order by random() limit ${calls}) x)
                as dnis`,
    )
  ).rows[0]!;

  const tracker = await startBenchTracker(db.url, nats.prefix);
  const client = createRpcClient(TaskService, { baseUrl: tracker.rpc.url, token: BENCH_TOKEN });
  const measure = async (name: string, call: (i: number) => Promise<unknown>) => {
    for (let i = 0; i < 10; i++) await call(i);
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await call(i);
      times.push(performance.now() - s);
    }
    process.stderr.write(`${name}: ${JSON.stringify(summarize(times))}\n`);
    return summarize(times);
  };
  const page = { pageSize: 50, pageToken: '' };
  const rows = { last: 0 };
  const list = async (filter: Parameters<typeof client.listTareas>[0]['filter']) => {
    const res = await client.listTareas({ filter, page });
    rows.last = res.tareas.length;
    return res;
  };
  const results: Record<string, unknown> = {};
  results.getDashboard = await measure('GetDashboard', () => client.getDashboard({ days: 14 }));
  results.listFailedIngestaAspirantes = await measure('ListTareas failed+ingesta_aspirantes', () =>
    list({ estados: [TareaEstado.FAILED], tipos: [TareaTipo.INGESTA_ASPIRANTES] }),
  );
  results.listFailedIngestaAspirantesRows = rows.last;
  results.listDateRange = await measure('ListTareas one day 30 days ago', (i) =>
    list({
      desde: timestampFromDate(new Date(now.getTime() - (30 + (i % 20)) * DAY)),
      hasta: timestampFromDate(new Date(now.getTime() - (29 + (i % 20)) * DAY)),
    }),
  );
  results.listDateRangeRows = rows.last;
  results.listFailedLastWeekCrearTeams = await measure(
    'ListTareas failed+crear_usuario_teams last 7 days',
    () =>
      list({
        estados: [TareaEstado.FAILED],
        tipos: [TareaTipo.CREAR_USUARIO_TEAMS],
        desde: timestampFromDate(new Date(now.getTime() - 7 * DAY)),
      }),
  );
  results.searchDni = await measure('ListTareas search DNI', (i) =>
    list({ search: facts.dnis[i % facts.dnis.length] ?? '30000037' }),
  );
  results.searchDniRows = rows.last;
  results.searchErrorText = await measure('ListTareas search error text', (i) =>
    list({ search: ['licencias A1', 'buzón inexistente', 'UPN ya existe'][i % 3]! }),
  );
  results.searchErrorTextFailedToday = await measure('ListTareas search error text, failed, last 24 h', (i) =>
    list({
      estados: [TareaEstado.FAILED],
      desde: timestampFromDate(new Date(now.getTime() - DAY)),
      search: ['licencias A1', 'buzón inexistente', 'UPN ya existe'][i % 3]!,
    }),
  );

  // The plans of the filtered first pages, as ListTareas sends them.
  const explain = async (where: string, params: string[]) =>
    (
      await knex.raw<{ rows: Array<{ 'QUERY PLAN': string }> }>(
        `explain (analyze, buffers, costs off) select id from tracker.tarea where version > 0 and ${where}
         order by scheduled_at desc, id desc limit 51`,
        params,
      )
    ).rows.map((r) => r['QUERY PLAN']);
  const plans = {
    failedIngestaAspirantes: await explain(`tipo = ? and estado = ?`, ['ingesta_aspirantes', 'failed']),
    dateRange: await explain(`scheduled_at >= ?::timestamptz and scheduled_at < ?::timestamptz`, [
      new Date(now.getTime() - 30 * DAY).toISOString(),
      new Date(now.getTime() - 29 * DAY).toISOString(),
    ]),
  };
  await tracker.stop();
  await orm.close();

  writeResult('tracker-queries', {
    command: `node node_modules/tsx/dist/cli.mjs bench/tracker-queries.bench.ts ${n} ${calls}`,
    tareas: n,
    tableSize: facts.size,
    generation: { seconds: round(generationSeconds), steps },
    callsPerQuery: calls,
    latencyMs: results,
    target: {
      p95Ms: 50,
      met:
        (results.getDashboard as { p95: number }).p95 < 50 &&
        (results.listFailedIngestaAspirantes as { p95: number }).p95 < 50 &&
        (results.listDateRange as { p95: number }).p95 < 50,
    },
    plans,
  });
} finally {
  await nats.cleanup();
  await db.drop();
}
