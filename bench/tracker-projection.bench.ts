// task-tracker projection throughput: N lifecycle events are published first, then the tracker starts and drains
// them into Postgres. Compared with the raw JetStream publish and consume+ack rates of the same messages.
//
//   node node_modules/tsx/dist/cli.mjs bench/tracker-projection.bench.ts [tasks=20000] [batchSize=500]
import { createTestDatabase, createTestNats } from '@lucy/testkit';
import { round, withResources, writeResult } from './lib.js';
import {
  lifecycleMessages,
  projectionBacklog,
  publishAll,
  rawConsumeAll,
  startBenchTracker,
  until,
} from './tracker-harness.js';

const tasks = Number(process.argv[2] ?? 20_000);
const batchSize = process.argv[3] ? Number(process.argv[3]) : undefined;

const db = await createTestDatabase('tracker_bench');
const nats = await createTestNats();
try {
  const { messages, expected } = lifecycleMessages(nats.names, tasks, Date.now() - 3_600_000);
  const events = messages.length;
  process.stderr.write(`publishing ${events} messages of ${tasks} Tareas…\n`);
  const publishSeconds = await publishAll(nats.handles, messages);

  process.stderr.write('raw consume+ack…\n');
  const raw = await rawConsumeAll(nats.handles, [
    { stream: nats.names.streams.cmd, subject: nats.names.allCommands },
    { stream: nats.names.streams.evt, subject: nats.names.allEvents },
  ]);
  if (raw.messages !== events) throw new Error(`raw consume saw ${raw.messages} of ${events}`);

  process.stderr.write('projection…\n');
  let startupSeconds = 0;
  const run = await withResources(async () => {
    const t0 = performance.now();
    const tracker = await startBenchTracker(db.url, nats.prefix, batchSize);
    startupSeconds = (performance.now() - t0) / 1000;
    await until(async () => (await projectionBacklog(nats.handles, nats.names)) === 0, 600_000, 50);
    const seconds = (performance.now() - t0) / 1000;
    const [c] = (
      await tracker.knex.raw<{
        rows: Array<Record<'tareas' | 'logs' | 'completed' | 'failed' | 'running' | 'counters', string>>;
      }>(
        `select (select count(*) from tracker.tarea where version > 0) as tareas,
                (select count(*) from tracker.log) as logs,
                (select count(*) from tracker.tarea where estado = 'completed') as completed,
                (select count(*) from tracker.tarea where estado = 'failed') as failed,
                (select count(*) from tracker.tarea where estado = 'running') as running,
                (select sum(count) from tracker.tarea_hourly_count) as counters`,
      )
    ).rows;
    const stats = Object.fromEntries(Object.entries(tracker.consumers).map(([k, v]) => [k, { ...v.stats }]));
    await tracker.stop();
    return { seconds, counts: c!, stats };
  });
  const got = Object.fromEntries(Object.entries(run.result.counts).map(([k, v]) => [k, Number(v)]));
  const ok =
    got.tareas === expected.tareas &&
    got.logs === expected.logs &&
    got.completed === expected.completed &&
    got.failed === expected.failed &&
    got.running === expected.running &&
    got.counters === expected.tareas;
  const projectionRate = events / run.result.seconds;
  writeResult('tracker-projection', {
    command: `node node_modules/tsx/dist/cli.mjs bench/tracker-projection.bench.ts ${tasks}${batchSize ? ` ${batchSize}` : ''}`,
    tareas: tasks,
    events,
    batchSize: batchSize ?? 1000,
    publish: { seconds: round(publishSeconds), eventsPerSecond: Math.round(events / publishSeconds) },
    rawConsumeAck: { seconds: round(raw.seconds), eventsPerSecond: Math.round(events / raw.seconds) },
    projection: {
      seconds: round(run.result.seconds),
      startupSeconds: round(startupSeconds),
      eventsPerSecond: Math.round(projectionRate),
      eventsPerSecondExcludingStartup: Math.round(events / (run.result.seconds - startupSeconds)),
      peakRssMb: run.peakRssMb,
      trackerProcessCpuPercent: run.cpuPercent,
      consumers: run.result.stats,
    },
    expected,
    got,
    correct: ok,
    target: { eventsPerSecond: 5000, met: projectionRate >= 5000 },
  });
  if (!ok) process.exitCode = 1;
} finally {
  await nats.cleanup();
  await db.drop();
}
