// The tracked task pipeline (issue 14): N commands published to JetStream as another university system would (JSON
// with Lucy headers), run by a worker built on the platform library (bench/pipeline-worker.ts, its own process),
// their lifecycle projected by task-tracker (compiled, its own process), timed from the first publish until all N
// Tareas are `completed` in Postgres. In the same run: the raw JetStream limit with the same payloads, and the same
// N trivial tasks on Celery (Redis broker and backend, `-c 2` prefork) for the ratio.
//
//   node node_modules/tsx/dist/cli.mjs bench/pipeline.bench.ts          (from the repository root)
//   N=20000 CONCURRENCY=64 PHASES=raw,lucy,enqueue,celery ENQUEUE_ROUNDS=20 IN_FLIGHT=1000 CHUNK=100 (defaults)
//   CELERY_BROKER_URL=redis://127.0.0.1:6379/11                         (a Redis database the bench may empty)
//   PYTHON=/usr/bin/python3                                             (the interpreter with Debian's celery)
//   WORKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' TRACKER_NODE_ARGS=…   (profile a process)
//
// Latency of a task = when the bench saw its Tarea `completed` in Postgres (polled every POLL_MS, default 100) −
// when its publish was issued. Counts checked at the end: N Tareas, all completed with one attempt, exactly N
// `started` and N `succeeded` events in the stream, no `failed`, nothing dead-lettered.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { create, toJsonString } from '@bufbuild/protobuf';
import {
  CONTENT_TYPE,
  createBatchPublisher,
  createCommandPublisher,
  createOrm,
  type PreparedCommand,
} from '@lucy/platform';
import { EnviarEmailCommandSchema, TipoEmail } from '@lucy/proto';
import { createTestDatabase, createTestNats, testEnv, type TestNats } from '@lucy/testkit';
import {
  benchScriptNodeArgs,
  processMeter,
  procSample,
  round,
  serviceNodeArgs,
  serviceRuntime,
  summarize,
  writeResult,
} from './lib.js';
import { enqueuePhase } from './pipeline-enqueue.js';
import { projectionBacklog, rawConsumeAll, until } from './tracker-harness.js';

const ROOT = join(import.meta.dirname, '..');
const N = Number(process.env.N ?? 20_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const POLL_MS = Number(process.env.POLL_MS ?? 100);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 1000);
const CHUNK = Number(process.env.CHUNK ?? 100);
const LATENCY_SAMPLE = Number(process.env.LATENCY_SAMPLE ?? 2000);
const PHASES = new Set((process.env.PHASES ?? 'raw,lucy,enqueue,celery').split(','));
const ENQUEUE_ROUNDS = Number(process.env.ENQUEUE_ROUNDS ?? 20);
const SUBJECT = 'lucy.cmd.notify.enviar_email';
const TASK = 'alumnos.tasks.enviar_email_credenciales';
const TARGET_RATE = 3000;
/** Debian's python3-celery installs for the system interpreter, which a pyenv/venv `python3` on PATH may hide. */
const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const TARGET_RATIO = 4;

const log = (msg: string) => process.stderr.write(`[pipeline] ${new Date().toISOString()} ${msg}\n`);
const nowMs = () => performance.timeOrigin + performance.now();
const load = () => round(loadavg()[0]!);

/** The N commands, JSON as an outside system writes them, with Lucy's headers (`Nats-Msg-Id` = task id). */
function commands(nats: TestNats): PreparedCommand[] {
  const publisher = createCommandPublisher(nats.handles.js, nats.names);
  return Array.from({ length: N }, (_, i) =>
    publisher.prepare(
      SUBJECT,
      new TextEncoder().encode(
        toJsonString(
          EnviarEmailCommandSchema,
          create(EnviarEmailCommandSchema, {
            alumnoId: `alu-${i}`,
            tipo: TipoEmail.CREDENCIALES,
            upn: `alu${i}@alumnos.fce.example`,
          }),
        ),
      ),
      CONTENT_TYPE.json,
      { taskType: TASK, requestedBy: 'sistema-externo', trigger: 'external' },
    ),
  );
}

/**
 * Publishes with up to IN_FLIGHT unacknowledged publishes, in chunks of CHUNK written at once with the platform's
 * batch publisher (acks collected on one inbox, as the scheduler's bursts go out; `js.publish` per message cost the
 * bench process more CPU than the worker and task-tracker together, on the same 2 cores); every publish's ack is
 * awaited and checked. Records in `sentAt` when each publish was issued (epoch ms), as it goes (the poller reads
 * it meanwhile).
 */
async function publishTimed(
  nats: TestNats,
  cmds: readonly PreparedCommand[],
  sentAt: number[] = new Array<number>(cmds.length),
): Promise<number[]> {
  const batch = createBatchPublisher(nats.handles.nc);
  let next = 0;
  const lane = async () => {
    while (next < cmds.length) {
      const from = next;
      next = Math.min(cmds.length, next + CHUNK);
      const chunk = cmds.slice(from, next);
      const at = nowMs();
      for (let i = from; i < next; i++) sentAt[i] = at;
      const acks = await batch.publishAll(chunk, 60_000);
      acks.forEach((ack, j) => {
        if (ack instanceof Error) throw new Error(`publish ${from + j} failed: ${ack.message}`);
        if (ack.duplicate) throw new Error(`publish ${from + j} was a duplicate`);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.floor(IN_FLIGHT / CHUNK)) }, lane));
  return sentAt;
}

/** CPU and RSS of this process only (not its children), over start() … stop(). */
function selfMeter() {
  let t0 = 0;
  let ticks0 = 0;
  let peakKb = 0;
  let timer: NodeJS.Timeout | undefined;
  const sample = () => {
    const s = procSample(process.pid);
    if (s) peakKb = Math.max(peakKb, s.rssKb);
    return s?.cpuTicks ?? 0;
  };
  return {
    start() {
      t0 = performance.now();
      ticks0 = sample();
      timer = setInterval(sample, 100);
    },
    stop() {
      clearInterval(timer);
      const seconds = (performance.now() - t0) / 1000;
      return {
        cpuPercent: round(((sample() - ticks0) / 100 / seconds) * 100),
        peakRssMb: round(peakKb / 1024),
        seconds: round(seconds),
      };
    },
  };
}

function run(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  stdout: 'pipe' | 'ignore',
): ChildProcess {
  return spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', stdout, 'inherit'],
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

const nodeArgsOf = (name: string) => process.env[name]?.split(' ').filter(Boolean) ?? [];

/** Raw JetStream on a prefix of its own: acked publishes/s and consume+ack/s of the same N commands. */
async function rawPhase(): Promise<Record<string, unknown>> {
  const nats = await createTestNats();
  try {
    const cmds = commands(nats);
    const t0 = performance.now();
    await publishTimed(nats, cmds);
    const publishSeconds = (performance.now() - t0) / 1000;
    const consumed = await rawConsumeAll(nats.handles, [
      { stream: nats.names.streams.cmd, subject: nats.names.allCommands },
    ]);
    if (consumed.messages !== N) throw new Error(`raw consume saw ${consumed.messages} of ${N}`);
    return {
      payloadBytes: cmds[0]!.data.length,
      ackedPublishPerSecond: Math.round(N / publishSeconds),
      consumeAckPerSecond: Math.round(N / consumed.seconds),
      loadavg1: load(),
    };
  } finally {
    await nats.cleanup();
  }
}

/** The Lucy pipeline: tracker and worker in processes of their own, the bench publishing and polling Postgres. */
async function lucyPhase(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('pipeline_bench');
  const nats = await createTestNats();
  const children: ChildProcess[] = [];
  const orm = await createOrm({ url: db.url, schema: 'tracker', entities: [], migrations: [], poolMax: 2 });
  const knex = orm.em.getKnex();
  try {
    const env = testEnv({
      DATABASE_URL: db.url,
      LUCY_PREFIX: nats.prefix,
      INSTANCE_ID: 'bench',
      MIGRATE_ON_START: 'true',
      LOG_LEVEL: 'warn',
    });
    log(`starting task-tracker (${serviceRuntime()})`);
    const tracker = run(
      serviceNodeArgs('main', nodeArgsOf('TRACKER_NODE_ARGS')),
      join(ROOT, 'services/task-tracker'),
      env,
      'ignore',
    );
    children.push(tracker);
    await until(async () => (await projectionBacklog(nats.handles, nats.names)) === 0, 120_000, 200);

    log(`starting the worker (concurrency ${CONCURRENCY})`);
    const worker = run(
      benchScriptNodeArgs(join(import.meta.dirname, 'pipeline-worker.ts'), nodeArgsOf('WORKER_NODE_ARGS')),
      ROOT,
      { ...env, CONCURRENCY: String(CONCURRENCY), WORKER_ID: 'bench-worker/1' },
      'pipe',
    );
    children.push(worker);
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: worker.stdout! });
      lines.on('line', (l) => l === 'ready' && resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });

    const cmds = commands(nats);
    const ids = cmds.map((c) => c.taskId);
    const index = new Map(ids.map((id, i) => [id, i]));
    const completedAt = new Array<number | undefined>(N);
    let completed = 0;
    const meters = { taskTracker: processMeter(tracker.pid!), worker: processMeter(worker.pid!) };
    // This process alone: processMeter counts a process tree, and the worker and task-tracker are this process's
    // children (the figures of earlier sessions for the bench process included both of them).
    const self = selfMeter();
    Object.values(meters).forEach((m) => m.start());
    self.start();
    const loadAtStart = load();
    log(`publishing ${N} commands (load ${loadAtStart})`);
    const t0 = nowMs();
    const sentAt = new Array<number>(N);
    const published = publishTimed(nats, cmds, sentAt).then(() => nowMs());
    let lastReport = { at: t0, completed: 0 };
    // Completion by count (one cheap query per poll); latency on a sample of up to LATENCY_SAMPLE tasks spread
    // evenly over the run, looked up by primary key while not yet seen completed. (Reading every completed id each
    // poll cost the bench process more CPU per task than the worker, competing with the pipeline for the cores.)
    const step = Math.max(1, Math.floor(N / LATENCY_SAMPLE));
    let waiting = ids.filter((_, i) => i % step === 0);
    let doneAt = 0;
    while (completed < N) {
      if (nowMs() - t0 > 30 * 60_000) throw new Error(`only ${completed} of ${N} completed after 30 min`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      const [{ rows: counted }, { rows }] = await Promise.all([
        knex.raw<{ rows: Array<{ n: string }> }>(
          `select count(*) as n from tracker.tarea where estado = 'completed'`,
        ),
        waiting.length
          ? knex.raw<{ rows: Array<{ id: string }> }>(
              `select id from tracker.tarea where id = any(?::uuid[]) and estado = 'completed'`,
              [waiting],
            )
          : Promise.resolve({ rows: [] as Array<{ id: string }> }),
      ]);
      const seen = nowMs();
      for (const { id } of rows) completedAt[index.get(id)!] = seen;
      if (rows.length) {
        const got = new Set(rows.map((r) => r.id));
        waiting = waiting.filter((id) => !got.has(id));
      }
      completed = Number(counted[0]!.n);
      if (completed >= N) doneAt = seen;
      if (seen - lastReport.at >= 5000) {
        const rate = ((completed - lastReport.completed) * 1000) / (seen - lastReport.at);
        log(`${completed}/${N} completed, ${Math.round(rate)}/s over the last 5 s (load ${load()})`);
        lastReport = { at: seen, completed };
      }
    }
    const seconds = (doneAt - t0) / 1000;
    const publishEnd = await published;
    const resources = {
      taskTracker: meters.taskTracker.stop(),
      worker: meters.worker.stop(),
      benchPublisherAndPoller: self.stop(),
    };
    const loadAtEnd = load();
    log(`all ${N} completed in ${round(seconds)} s; checking`);

    await until(async () => (await projectionBacklog(nats.handles, nats.names)) === 0, 120_000, 200);
    const [counts] = (
      await knex.raw<{ rows: Array<Record<string, string>> }>(
        `select count(*) as tareas,
                count(*) filter (where estado = 'completed') as completed,
                count(*) filter (where attempts = 1) as one_attempt,
                count(*) filter (where task_name = ?) as of_task
           from tracker.tarea`,
        [TASK],
      )
    ).rows;
    const evt = await nats.handles.jsm.streams.info(nats.names.streams.evt, { subjects_filter: '>' });
    const perSubject = evt.state.subjects ?? {};
    const events = (kind: string) => perSubject[nats.names.evt('task', kind)] ?? 0;
    const dlq = await nats.handles.jsm.streams.info(nats.names.streams.dlq);
    const got = {
      tareas: Number(counts!.tareas),
      completed: Number(counts!.completed),
      oneAttempt: Number(counts!.one_attempt),
      ofTask: Number(counts!.of_task),
      startedEvents: events('started'),
      succeededEvents: events('succeeded'),
      failedEvents: events('failed'),
      otherEvents:
        Object.values(perSubject).reduce((a, b) => a + b, 0) - events('started') - events('succeeded'),
      deadLettered: dlq.state.messages,
    };
    const correct =
      got.tareas === N &&
      got.completed === N &&
      got.oneAttempt === N &&
      got.ofTask === N &&
      got.startedEvents === N &&
      got.succeededEvents === N &&
      got.failedEvents === 0 &&
      got.deadLettered === 0;
    const latencies = completedAt.flatMap((c, i) => (c === undefined ? [] : [c - sentAt[i]!]));
    return {
      tasks: N,
      seconds: round(seconds),
      tasksPerSecond: Math.round(N / seconds),
      publishSeconds: round((publishEnd - t0) / 1000),
      latencyMs: summarize(latencies),
      pollMs: POLL_MS,
      messagesPerTask: round((N + got.startedEvents + got.succeededEvents + got.otherEvents) / N),
      resources,
      // CPU per task of each process (load-independent, unlike the rate): cpu% × seconds ÷ N, in ms.
      cpuMsPerTask: Object.fromEntries(
        Object.entries(resources).map(([k, r]) => [k, round((r.cpuPercent * r.seconds * 10) / N)]),
      ),
      loadavg1AtStart: loadAtStart,
      loadavg1AtEnd: loadAtEnd,
      got,
      correct,
    };
  } finally {
    await Promise.all(children.map(stopChild));
    await orm.close(true);
    await nats.cleanup();
    await db.drop();
  }
}

/** The same N trivial tasks on Celery; undefined (with the reason) when Celery cannot run here. */
async function celeryPhase(): Promise<Record<string, unknown>> {
  const dir = join(import.meta.dirname, 'celery');
  const py = (args: string[]) => spawnSync(PYTHON, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (py(['-c', 'import celery, redis']).status !== 0) {
    if (process.getuid?.() === 0) {
      log('installing python3-celery and python3-redis (apt-get)');
      spawnSync('apt-get', ['install', '-y', 'python3-celery', 'python3-redis'], {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    }
    if (py(['-c', 'import celery, redis']).status !== 0)
      return { skipped: 'python3-celery / python3-redis are not installed and could not be installed here' };
  }
  const flush = py(['pipeline_celery.py', 'flush']);
  if (flush.status !== 0)
    return { skipped: `Redis is not reachable: ${flush.stderr.trim().split('\n').at(-1)}` };
  const worker = spawn(
    PYTHON,
    ['-m', 'celery', '-A', 'pipeline_celery', 'worker', '-c', '2', '-P', 'prefork', '-l', 'WARNING'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    const meter = processMeter(worker.pid!);
    const loadAtStart = load();
    log(`Celery: ${N} tasks (load ${loadAtStart})`);
    const driverOut: string[] = [];
    const driver = spawn(PYTHON, ['pipeline_celery.py', String(N)], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    driver.stdout.on('data', (b: Buffer) => driverOut.push(b.toString()));
    meter.start();
    const code = await new Promise<number | null>((r) => driver.once('exit', r));
    const resources = meter.stop();
    if (code !== 0) throw new Error(`the Celery driver exited with ${code}`);
    const r = JSON.parse(driverOut.join('')) as {
      seconds: number;
      publishSeconds: number;
      latenciesMs: number[];
      runs: number;
      states: Record<string, number>;
      distinctIds: number;
    };
    return {
      tasks: N,
      seconds: round(r.seconds),
      tasksPerSecond: Math.round(N / r.seconds),
      publishSeconds: round(r.publishSeconds),
      latencyMs: summarize(r.latenciesMs),
      resources: { celeryWorkerAndPool: resources },
      loadavg1AtStart: loadAtStart,
      loadavg1AtEnd: load(),
      got: { runs: r.runs, states: r.states, distinctIds: r.distinctIds },
      correct: r.runs === N && r.states.SUCCESS === N && r.distinctIds === N,
    };
  } finally {
    await stopChild(worker);
    py(['pipeline_celery.py', 'flush']);
  }
}

const result: Record<string, unknown> = {
  command: 'node node_modules/tsx/dist/cli.mjs bench/pipeline.bench.ts',
  n: N,
  workerConcurrency: CONCURRENCY,
  serviceRuntime: serviceRuntime(),
};
if (PHASES.has('raw')) {
  log('raw JetStream');
  result.rawJetStream = await rawPhase();
}
let lucy: Record<string, unknown> | undefined;
if (PHASES.has('lucy')) result.lucy = lucy = await lucyPhase();
if (PHASES.has('enqueue')) {
  log(`Enqueue of 50 activations, ${ENQUEUE_ROUNDS} times (identity-teams)`);
  result.enqueue50 = await enqueuePhase(ENQUEUE_ROUNDS);
}
let celery: Record<string, unknown> | undefined;
if (PHASES.has('celery')) result.celery = celery = await celeryPhase();
const lucyRate = lucy?.tasksPerSecond as number | undefined;
const celeryRate = celery?.tasksPerSecond as number | undefined;
if (lucyRate && celeryRate) result.ratioLucyToCelery = round(lucyRate / celeryRate);
result.target = {
  tasksPerSecond: TARGET_RATE,
  ratio: TARGET_RATIO,
  rateMet: lucyRate !== undefined ? lucyRate >= TARGET_RATE : undefined,
  ratioMet: lucyRate && celeryRate ? lucyRate / celeryRate >= TARGET_RATIO : undefined,
  enqueue50P95Ms: 50,
  enqueue50Met:
    result.enqueue50 !== undefined
      ? ((result.enqueue50 as { latencyMs: { p95: number } }).latencyMs.p95 ?? Infinity) < 50
      : undefined,
};
writeResult(process.env.RESULT ?? 'pipeline', result);
if (lucy?.correct === false || celery?.correct === false) process.exitCode = 1;
