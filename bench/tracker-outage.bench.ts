// task-tracker through a 30 s Postgres outage under load: lifecycle events are published at a steady rate while a
// TCP proxy in front of Postgres is cut (every connection destroyed, new ones refused) and later restored. Every
// event must be projected exactly once afterwards; reports the catch-up time.
//
//   node node_modules/tsx/dist/cli.mjs bench/tracker-outage.bench.ts [eventsPerSecond=1000] [outageSeconds=30]
import { createTestDatabase, createTestNats } from '@lucy/testkit';
import { round, writeResult } from './lib.js';
import {
  cuttableProxy,
  lifecycleMessages,
  projectionBacklog,
  startBenchTracker,
  until,
  type BenchMessage,
} from './tracker-harness.js';

const rate = Number(process.argv[2] ?? 1000);
const outageSeconds = Number(process.argv[3] ?? 30);
const BEFORE_S = 10;
const AFTER_S = 10;

const db = await createTestDatabase('tracker_bench');
const nats = await createTestNats();
const proxy = await cuttableProxy('127.0.0.1', 5432);
try {
  const totalSeconds = BEFORE_S + outageSeconds + AFTER_S;
  // About 4.6 messages per Tarea.
  const tasks = Math.ceil((rate * totalSeconds) / 4.6);
  const { messages, expected } = lifecycleMessages(nats.names, tasks, Date.now() - 3_600_000);
  const url = new URL(db.url);
  url.port = String(proxy.port);
  const tracker = await startBenchTracker(url.toString(), nats.prefix);

  // Steady publishing in 100 ms ticks, independent of the projection (NATS keeps everything while Postgres is down).
  let sent = 0;
  const t0 = performance.now();
  const publishing = (async () => {
    const perTick = Math.max(1, Math.round(rate / 10));
    let tick = 0;
    while (sent < messages.length) {
      const chunk: BenchMessage[] = messages.slice(sent, sent + perTick);
      await Promise.all(
        chunk.map((m) => nats.handles.js.publish(m.subject, m.data, { headers: m.headers, msgID: m.msgID })),
      );
      sent += chunk.length;
      tick++;
      const wait = t0 + tick * 100 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();

  const at = () => (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, BEFORE_S * 1000));
  const sentBeforeCut = sent;
  const backlogAtCut = await projectionBacklog(nats.handles, nats.names);
  proxy.cut();
  const cutAt = at();
  process.stderr.write(`cut at ${round(cutAt)} s (${sentBeforeCut} published)\n`);
  let maxBacklog = 0;
  const sampler = setInterval(() => {
    projectionBacklog(nats.handles, nats.names)
      .then((b) => {
        maxBacklog = Math.max(maxBacklog, b);
      })
      .catch(() => undefined);
  }, 1000);
  await new Promise((r) => setTimeout(r, outageSeconds * 1000));
  const sentDuringOutage = sent - sentBeforeCut;
  proxy.restore();
  const restoredAt = at();
  process.stderr.write(
    `restored at ${round(restoredAt)} s (${sentDuringOutage} published during the outage)\n`,
  );
  const failuresDuringOutage = Object.values(tracker.consumers).reduce((n, c) => n + c.stats.failures, 0);

  await publishing;
  const publishedAt = at();
  await until(async () => (await projectionBacklog(nats.handles, nats.names)) === 0, 600_000, 100);
  const drainedAt = at();
  clearInterval(sampler);

  const [c] = (
    await tracker.knex.raw<{ rows: Array<Record<string, string>> }>(
      `select (select count(*) from tracker.tarea where version > 0) as tareas,
              (select count(*) from tracker.log) as logs,
              (select count(*) from tracker.tarea where estado = 'completed') as completed,
              (select count(*) from tracker.tarea where estado = 'failed') as failed,
              (select count(*) from tracker.tarea where estado = 'running') as running,
              (select sum(count) from tracker.tarea_hourly_count) as counters,
              (select count(*) from tracker.tarea_event where kind = 'published') as published_events,
              (select count(*) from tracker.tarea_event where kind = 'started') as started_events,
              (select count(*) from tracker.tarea where attempts <> 1) as wrong_attempts`,
    )
  ).rows;
  await tracker.stop();
  const got = Object.fromEntries(Object.entries(c!).map(([k, v]) => [k, Number(v)]));
  const exactlyOnce =
    got.tareas === expected.tareas &&
    got.logs === expected.logs &&
    got.completed === expected.completed &&
    got.failed === expected.failed &&
    got.running === expected.running &&
    got.counters === expected.tareas &&
    got.published_events === expected.tareas &&
    got.started_events === expected.tareas &&
    got.wrong_attempts === 0;
  writeResult('tracker-outage', {
    command: `node node_modules/tsx/dist/cli.mjs bench/tracker-outage.bench.ts ${rate} ${outageSeconds}`,
    publishRateEventsPerSecond: rate,
    outageSeconds,
    events: messages.length,
    publishedBeforeCut: sentBeforeCut,
    backlogAtCut,
    publishedDuringOutage: sentDuringOutage,
    maxBacklogSampled: maxBacklog,
    failedBatchAttemptsDuringOutage: failuresDuringOutage,
    timeline: {
      cutAtSeconds: round(cutAt),
      restoredAtSeconds: round(restoredAt),
      publishingEndedAtSeconds: round(publishedAt),
      drainedAtSeconds: round(drainedAt),
    },
    catchUpSecondsAfterRestore: round(drainedAt - restoredAt),
    catchUpSecondsAfterLastPublish: round(drainedAt - publishedAt),
    expected,
    got,
    exactlyOnce,
  });
  if (!exactlyOnce) process.exitCode = 1;
} finally {
  proxy.restore();
  await nats.cleanup();
  await db.drop();
  await proxy.close();
}
