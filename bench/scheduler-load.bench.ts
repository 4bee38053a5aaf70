// Scheduler under load (issue 4, "Performance"): 10,000 enabled periodic tasks fired by ONE scheduler process.
//
//   node node_modules/tsx/dist/cli.mjs bench/scheduler-load.bench.ts        (from the repository root)
//   N=10000 MINUTES=3 IDLE_SECONDS=60                                       (defaults)
//   SCHEDULER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'                (profile the scheduler)
//   PHASES=fire,idle,baseline  SERVICE_RUNTIME=tsx   (a subset of phases; the sources through tsx, not dist/)
//
// Phase "fire": N tasks, half crontab (minute-aligned, five distinct schedules), half interval (every 1–5 min,
// anchors spread across the minute); the scheduler runs as a separate process; over MINUTES whole minutes,
// fire lag = JetStream's stored timestamp of each command in LUCY_CMD − its due time (from the Nats-Msg-Id slot
// key). Phase "idle": N tasks whose next slot is hours away; CPU of the scheduler process over IDLE_SECONDS.
// RSS (VmRSS) and CPU (utime + stime) are read from /proc/<pid> of the scheduler process itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { createOrm, H, migrate } from '@lucy/platform';
import {
  createTestDatabase,
  createTestNats,
  testEnv,
  testPrefix,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { schedulerOrm } from '@lucy/scheduler';
import { round, serviceNodeArgs, serviceRuntime, summarize, writeResult } from './lib.js';

const ROOT = join(import.meta.dirname, '..');
const SERVICE_DIR = join(ROOT, 'services/scheduler');
const N = Number(process.env.N ?? 10_000);
const MINUTES = Number(process.env.MINUTES ?? 3);
const IDLE_SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const TASK = 'alumnos.tasks.ingestar_aspirantes';
const MINUTE = 60_000;
/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux x86-64 and arm64). */
const CLK_TCK = 100;

/** Minute-aligned crontabs (UTC) and the minutes (of the hour) they match. */
const CRONTABS: ReadonlyArray<{ minute: string; matches: (m: number) => boolean }> = [
  { minute: '*', matches: () => true },
  { minute: '*/2', matches: (m) => m % 2 === 0 },
  { minute: '*/3', matches: (m) => m % 3 === 0 },
  { minute: '*/5', matches: (m) => m % 5 === 0 },
  { minute: '1-59/2', matches: (m) => m % 2 === 1 },
];

const log = (msg: string) => process.stderr.write(`[scheduler-load] ${new Date().toISOString()} ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function envOf(db: TestDatabase, nats: TestNats): Record<string, string> {
  return testEnv({
    DATABASE_URL: db.url,
    LUCY_PREFIX: nats.prefix,
    INSTANCE_ID: 'bench',
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: 'warn',
  });
}

/** Runs a script of the scheduler (`main`, `migrate`) as its own node process, as production does (bench/lib.ts). */
function runService(script: string, env: Record<string, string>): ChildProcess {
  const extra = process.env.SCHEDULER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return spawn(process.execPath, serviceNodeArgs(script, extra), {
    cwd: SERVICE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Resources of a process from /proc. */
function procSample(pid: number): { rssKb: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssKb, cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** Samples a process's peak RSS every 100 ms until stopped. */
function rssSampler(pid: number): { peakMb(): number; stop(): void } {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procSample(pid).rssKb);
    } catch {
      // Exited.
    }
  }, 100);
  return { peakMb: () => round(peak / 1024), stop: () => clearInterval(timer) };
}

async function waitLeader(nats: TestNats, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const e = await nats.buckets.leases.get('scheduler.leader').catch(() => null);
    if (e && e.operation === 'PUT' && (JSON.parse(e.string()) as { holder: string }).holder === 'bench')
      return;
    await sleep(100);
  }
  throw new Error('the scheduler did not become leader');
}

interface Row {
  id: string;
  crontabId: string | null;
  intervalId: string | null;
  createdAt: Date;
}

/** A PostgreSQL array literal for uuid[] / timestamptz[] bindings (knex expands JS arrays into lists). */
const pgArray = (values: ReadonlyArray<string | null>) => `{${values.map((v) => v ?? 'NULL').join(',')}}`;

/** Migrates the fresh database and inserts schedules and tasks in a few statements (not one RPC per task). */
async function insertTasks(
  db: TestDatabase,
  crontabs: ReadonlyArray<{ id: string; minute: string; hour: string }>,
  intervals: ReadonlyArray<{ id: string; minutes: number }>,
  rows: readonly Row[],
): Promise<void> {
  const orm = await createOrm({ ...schedulerOrm, url: db.url });
  try {
    await migrate(orm, schedulerOrm.schema);
    const knex = orm.em.getKnex();
    for (const c of crontabs) {
      await knex.raw(
        `insert into scheduler.crontab_schedule (id, minute, hour, timezone) values (?, ?, ?, 'UTC')`,
        [c.id, c.minute, c.hour],
      );
    }
    for (const i of intervals) {
      await knex.raw(`insert into scheduler.interval_schedule (id, every, period) values (?, ?, 'minutes')`, [
        i.id,
        i.minutes,
      ]);
    }
    await knex.raw(
      `insert into scheduler.periodic_task (id, name, task, enabled, crontab_id, interval_id, created_at, date_changed)
       select u.id, 'bench ' || u.id, ?, true, u.c, u.i, u.at, u.at
         from unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::timestamptz[]) as u (id, c, i, at)`,
      [
        TASK,
        pgArray(rows.map((r) => r.id)),
        pgArray(rows.map((r) => r.crontabId)),
        pgArray(rows.map((r) => r.intervalId)),
        pgArray(rows.map((r) => r.createdAt.toISOString())),
      ],
    );
  } finally {
    await orm.close();
  }
}

/** Every command stored in the prefix's LUCY_CMD: slot key and JetStream timestamp (ms). */
async function storedCommands(nats: TestNats): Promise<Array<{ key: string; storedAt: number }>> {
  const stream = nats.names.streams.cmd;
  const info = await nats.handles.jsm.streams.info(stream);
  const out: Array<{ key: string; storedAt: number }> = [];
  if (info.state.messages === 0) return out;
  const consumer = await nats.handles.js.consumers.get(stream);
  const messages = await consumer.consume();
  for await (const m of messages) {
    out.push({ key: m.headers?.get(H.msgId) ?? '', storedAt: m.info.timestampNanos / 1e6 });
    if (m.seq >= info.state.last_seq) break;
  }
  await messages.close();
  return out;
}

async function firePhase(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('scheduler_bench');
  const nats = await createTestNats(testPrefix('sb'));
  const env = envOf(db, nats);
  let child: ChildProcess | undefined;
  try {
    const crontabs = CRONTABS.map((c) => ({ ...c, id: randomUUID(), hour: '*' }));
    const intervals = [1, 2, 3, 4, 5].map((minutes) => ({ id: randomUUID(), minutes }));
    const now = Date.now();
    // Interval anchors: from 20 s from now, spread over a minute with ms resolution.
    const rows: Row[] = Array.from({ length: N }, (_, i) => {
      const crontab = i % 2 === 0;
      return {
        id: randomUUID(),
        crontabId: crontab ? crontabs[(i >> 1) % crontabs.length]!.id : null,
        intervalId: crontab ? null : intervals[(i >> 1) % intervals.length]!.id,
        createdAt: crontab ? new Date(now) : new Date(now + 20_000 + Math.floor(Math.random() * MINUTE)),
      };
    });
    await insertTasks(db, crontabs, intervals, rows);
    log(`${N} tasks inserted; starting the scheduler`);

    const startedAt = Date.now();
    child = runService('main', env);
    const rss = rssSampler(child.pid!);
    await waitLeader(nats);
    const leaderAfterMs = Date.now() - startedAt;
    // Whole minutes, starting at least 15 s after the scheduler became leader (its first resync is done).
    const windowStart = Math.ceil((Date.now() + 15_000) / MINUTE) * MINUTE;
    const windowEnd = windowStart + MINUTES * MINUTE;
    log(`leader after ${leaderAfterMs} ms; window ${new Date(windowStart).toISOString()} + ${MINUTES} min`);
    await sleep(windowStart - Date.now());
    const cpu0 = procSample(child.pid!).cpuTicks;
    const load0 = loadavg();
    await sleep(windowEnd - Date.now());
    const cpuTicks = procSample(child.pid!).cpuTicks - cpu0;
    const load1 = loadavg();
    // Slots due just before the end are published shortly after it.
    await sleep(5_000);
    rss.stop();

    // Expected slots in the window, from the data set.
    const rowsById = new Map(rows.map((r) => [r.id, r]));
    let expected = 0;
    for (const r of rows) {
      if (r.crontabId) {
        const c = crontabs.find((x) => x.id === r.crontabId)!;
        for (let t = windowStart; t < windowEnd; t += MINUTE)
          if (c.matches(new Date(t).getUTCMinutes())) expected++;
      } else {
        const every = intervals.find((x) => x.id === r.intervalId)!.minutes * MINUTE;
        const anchor = r.createdAt.getTime();
        // Interval slots are anchor + k·every for k ≥ 1.
        const first = anchor + Math.max(1, Math.ceil((windowStart - anchor) / every)) * every;
        for (let t = first; t < windowEnd; t += every) expected++;
      }
    }
    const lags: number[] = [];
    const cronLags: number[] = [];
    const intervalLags: number[] = [];
    const seen = new Map<string, number>();
    for (const m of await storedCommands(nats)) {
      const at = m.key.lastIndexOf('@');
      const due = Date.parse(m.key.slice(at + 1));
      if (!(due >= windowStart && due < windowEnd)) continue;
      seen.set(m.key, (seen.get(m.key) ?? 0) + 1);
      const lag = m.storedAt - due;
      lags.push(lag);
      (rowsById.get(m.key.slice(0, at))?.crontabId ? cronLags : intervalLags).push(lag);
    }
    return {
      tasks: {
        total: N,
        crontab: rows.filter((r) => r.crontabId).length,
        interval: rows.filter((r) => r.intervalId).length,
      },
      crontabs: crontabs.map((c) => `${c.minute} * * * * UTC`),
      intervals: intervals.map((i) => `every ${i.minutes} min`),
      window: { start: new Date(windowStart).toISOString(), minutes: MINUTES },
      leaderAfterMs,
      slots: { expected, fired: seen.size, duplicates: [...seen.values()].filter((n) => n > 1).length },
      fireLagMs: summarize(lags),
      fireLagCrontabMs: summarize(cronLags),
      fireLagIntervalMs: summarize(intervalLags),
      cpuPercent: round((cpuTicks / CLK_TCK / ((windowEnd - windowStart) / 1000)) * 100),
      peakRssMb: rss.peakMb(),
      loadavg: { atStart: load0.map(round), atEnd: load1.map(round) },
    };
  } finally {
    await stop(child);
    await nats.cleanup();
    await db.drop();
  }
}

async function idlePhase(n: number, idleSeconds: number): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('scheduler_bench');
  const nats = await createTestNats(testPrefix('sb'));
  const env = envOf(db, nats);
  let child: ChildProcess | undefined;
  try {
    // Daily, at an hour (UTC) twelve hours away: never due during the phase.
    const hour = String((new Date().getUTCHours() + 12) % 24);
    const crontab = { id: randomUUID(), minute: '0', hour };
    const now = new Date();
    const rows: Row[] = Array.from({ length: n }, () => ({
      id: randomUUID(),
      crontabId: crontab.id,
      intervalId: null,
      createdAt: now,
    }));
    await insertTasks(db, [crontab], [], rows);
    child = runService('main', env);
    const rss = rssSampler(child.pid!);
    await waitLeader(nats);
    await sleep(10_000);
    const cpu0 = procSample(child.pid!).cpuTicks;
    const load0 = loadavg();
    const t0 = Date.now();
    log(`idle (${n} tasks): measuring ${idleSeconds} s`);
    await sleep(idleSeconds * 1000);
    const cpuTicks = procSample(child.pid!).cpuTicks - cpu0;
    const seconds = (Date.now() - t0) / 1000;
    rss.stop();
    return {
      tasks: n,
      schedule: `0 ${hour} * * * UTC`,
      seconds: round(seconds),
      cpuPercent: round((cpuTicks / CLK_TCK / seconds) * 100),
      peakRssMb: rss.peakMb(),
      loadavg: { atStart: load0.map(round), atEnd: loadavg().map(round) },
    };
  } finally {
    await stop(child);
    await nats.cleanup();
    await db.drop();
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const PHASES = new Set((process.env.PHASES ?? 'fire,idle,baseline').split(','));
const skipped = { skipped: true, peakRssMb: 0, cpuPercent: 0, fireLagMs: summarize([]) };
const fire = PHASES.has('fire') ? await firePhase() : skipped;
log(`fire: ${JSON.stringify(fire)}`);
const idle = PHASES.has('idle') ? await idlePhase(N, IDLE_SECONDS) : skipped;
// The same process with no periodic task at all: the runtime's own footprint (Node, ORM, NATS, RPC).
const baseline = PHASES.has('baseline') ? await idlePhase(0, 15) : skipped;
log(`baseline: ${JSON.stringify(baseline)}`);
const lag = fire.fireLagMs as ReturnType<typeof summarize>;
writeResult(process.env.RESULT ?? 'scheduler-load', {
  command: 'node node_modules/tsx/dist/cli.mjs bench/scheduler-load.bench.ts',
  runtime: serviceRuntime(),
  fire,
  idle,
  baseline,
  targets: {
    fireLagP99Ms: { target: 250, value: lag.p99, met: lag.p99 < 250 },
    idleCpuPercent: { target: 3, value: idle.cpuPercent, met: (idle.cpuPercent as number) < 3 },
    peakRssMb: {
      target: 200,
      value: Math.max(fire.peakRssMb as number, idle.peakRssMb as number),
      met: Math.max(fire.peakRssMb as number, idle.peakRssMb as number) < 200,
    },
  },
});
