// The fault suite: the whole system (stack.ts) under a mixed workload while a seeded schedule of faults runs; then,
// once the faults stop and the system drains, the invariants checked against the sources of truth (the fakes' own
// records, the command stream, the dead letters, the services' tables) and the time each fault took to recover from.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  CONTENT_TYPE,
  createCommandPublisher,
  createRpcClient,
  H,
  taskIdFromDelivery,
  type CommandPublisher,
} from '@lucy/platform';
import {
  CrearUsuarioTeamsCommandSchema,
  IdentityService,
  IngestarCommandSchema,
  IngestService,
  IntervalPeriod,
  SchedulerService,
  TipoIngesta,
} from '@lucy/proto';
import { createRng, type Rng } from './prng.js';
import { sleep, until } from './infra.js';
import type { SERVICE_KINDS } from './stack.js';
import { startStack, type Stack } from './stack.js';

export const FINAL_STATES = ['completed', 'failed', 'skipped', 'cancelled'] as const;

/** A kind of fault the schedule injects. */
export type FaultKind =
  | 'kill9:task-tracker'
  | 'kill9:scheduler-leader'
  | 'kill9:ingest-sial'
  | 'kill9:identity-teams'
  | 'kill9:notifier'
  | 'sigterm'
  | 'nats-restart'
  | 'postgres-restart'
  | 'netcut'
  | 'graph-429'
  | 'graph-503'
  | 'smtp-refuse'
  | 'sial-timeout';

export const ALL_FAULTS: readonly FaultKind[] = [
  'kill9:task-tracker',
  'kill9:scheduler-leader',
  'kill9:ingest-sial',
  'kill9:identity-teams',
  'kill9:notifier',
  'sigterm',
  'nats-restart',
  'postgres-restart',
  'netcut',
  'graph-429',
  'graph-503',
  'smtp-refuse',
  'sial-timeout',
];

export interface SuiteOptions {
  seed: number;
  /** Where data and logs go. */
  dir: string;
  /** How long faults are injected (the workload runs as long). */
  faultWindowMs: number;
  /** Faults per round; each round holds every kind once, in a seeded order (more rounds for longer runs). */
  rounds?: number;
  /** Alumnos per tipo in the SIAL fake. */
  sialSize: number;
  /** Interval of the scheduled ingestion, in seconds. */
  scheduleEverySeconds: number;
  /** How long an outage (network cut, SMTP refusing) lasts. */
  outageMs: number;
  /** Bound on the drain after the faults stop. */
  drainTimeoutMs: number;
  /** Bound on each fault's recovery. */
  recoveryTimeoutMs: number;
  /**
   * identity-teams' ack wait (default: the service's 60 s). A task in flight in a process killed with SIGKILL runs
   * again after up to two ack waits (the runner's stale-claim rule), so the short run shortens it to fit its time.
   */
  identityAckWaitMs?: number;
  /** Workload pacing: ms between workload steps. */
  stepMs: number;
  log?: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  /** What exactly was done (the replica killed, the proxy cut). */
  detail: string;
  /** Offset from the start of the fault window, ms, as scheduled. */
  plannedAtMs: number;
  at: string;
  /** From the injection (or the end of an outage) until the system is healthy again and a probe task finished. */
  recoveryMs?: number;
  error?: string;
}

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

export interface SuiteReport {
  seed: number;
  startedAt: string;
  finishedAt: string;
  startupMs: number;
  faultWindowMs: number;
  drainMs: number;
  schedule: { kind: FaultKind; atMs: number }[];
  faults: FaultRecord[];
  tasks: { total: number; byTipo: Record<string, Record<string, number>> };
  workload: Record<string, number>;
  invariants: Invariant[];
  rss: { name: string; startMb?: number; endMb?: number; restarts: number }[];
  rssSamples: { at: string; mb: Record<string, number | undefined> }[];
  unexpectedExits: Record<string, string[]>;
  startFailures: Record<string, string[]>;
}

/** The seeded schedule: `rounds` permutations of every fault kind, spread over the window with jitter. */
export function faultSchedule(
  seed: number,
  windowMs: number,
  rounds = 1,
): { kind: FaultKind; atMs: number }[] {
  const rng = createRng(seed);
  const kinds = Array.from({ length: rounds }, () => rng.shuffle(ALL_FAULTS)).flat();
  const slot = windowMs / kinds.length;
  return kinds.map((kind, i) => ({ kind, atMs: Math.round(i * slot + rng.next() * slot * 0.5) }));
}

const TIPOS = ['preinscriptos', 'aspirantes', 'ingresantes'] as const;
/** Every RPC of the workload is bounded: a call into a service cut from its database fails instead of hanging. */
const CALL = { timeoutMs: 30_000 };

/** Runs the suite and returns its report (the caller decides what fails). */
export async function runFaultSuite(options: SuiteOptions): Promise<SuiteReport> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[faults] ${line}\n`));
  const startedAt = new Date();
  const schedule = faultSchedule(options.seed, options.faultWindowMs, options.rounds ?? 1);
  log(
    `seed ${options.seed}; schedule: ${schedule.map((s) => `${(s.atMs / 1000).toFixed(1)}s ${s.kind}`).join(', ')}`,
  );
  const stack = await startStack({
    dir: options.dir,
    sialSize: options.sialSize,
    sialSeed: options.seed,
    massDeleteMax: 100_000,
    identityAckWaitMs: options.identityAckWaitMs,
  });
  const startupMs = Date.now() - startedAt.getTime();
  log(`stack up in ${(startupMs / 1000).toFixed(1)} s (logs in ${stack.logDir})`);
  try {
    return await exercise(stack, options, schedule, startedAt, startupMs, log);
  } finally {
    await stack.close();
  }
}

async function exercise(
  stack: Stack,
  options: SuiteOptions,
  schedule: { kind: FaultKind; atMs: number }[],
  startedAt: Date,
  startupMs: number,
  log: (line: string) => void,
): Promise<SuiteReport> {
  const rng = createRng(options.seed ^ 0x5bd1e995);
  const rpc = (kind: (typeof SERVICE_KINDS)[number]) => ({ baseUrl: stack.url(kind), token: stack.rpcToken });
  const identity = createRpcClient(IdentityService, rpc('identity-teams'));
  const ingest = createRpcClient(IngestService, rpc('ingest-sial'));
  const schedulerUrl = stack.service('scheduler-a').url;
  const scheduler = createRpcClient(SchedulerService, { baseUrl: schedulerUrl, token: stack.rpcToken });
  const publisher = createCommandPublisher(stack.handles.js, stack.names, stack.handles.nc);
  const rssStart = Object.fromEntries(stack.services.map((s) => [s.name, s.rssMb()]));
  // RSS of each service once a minute (a leak shows as a slope between restarts).
  const rssSamples: { at: string; mb: Record<string, number | undefined> }[] = [];
  const sampleRss = () =>
    rssSamples.push({
      at: new Date().toISOString(),
      mb: Object.fromEntries(stack.services.map((s) => [s.name, s.rssMb()])),
    });
  sampleRss();
  const rssTimer = setInterval(sampleRss, 60_000);
  const workload: Record<string, number> = {};
  const count = (k: string, n = 1) => void (workload[k] = (workload[k] ?? 0) + n);
  const retrying = async <T>(what: string, fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> =>
    until(what, async () => ({ v: await fn() }), timeoutMs, 1_000).then((r) => r.v);

  // --- Set-up: windows open for every tipo, a first ingestion, the scheduled one, a probe account.
  const hourAgo = timestampFromDate(new Date(Date.now() - 3_600_000));
  await retrying('ingest configuration', () =>
    ingest.updateConfiguracion(
      {
        configuracion: {
          ventanas: [TipoIngesta.PREINSCRIPTOS, TipoIngesta.ASPIRANTES, TipoIngesta.INGRESANTES].map(
            (tipo) => ({
              tipo,
              diaInicio: hourAgo,
              activarTeams: true,
              activarMoodle: true,
              enviarEmail: true,
            }),
          ),
        },
        requestedBy: 'faults',
      },
      CALL,
    ),
  );
  const first = await publisher.publish(
    'lucy.cmd.ingest.ingestar_aspirantes',
    IngestarCommandSchema,
    {},
    {
      taskType: 'alumnos.tasks.ingestar_aspirantes',
      requestedBy: 'faults',
      trigger: 'admin',
    },
  );
  await waitTareas(stack, [first.taskId], 120_000, 'the first ingestion');
  const alumnos = async () =>
    (
      await stack.db.query<{ id: string; dni: string }>(
        'select id::text, dni from ingest.alumno order by dni',
      )
    ).rows;
  const pool = (await alumnos()).map((a) => a.id);
  if (pool.length === 0) throw new Error('the first ingestion stored no alumno');
  // Probe accounts: each recovery probe asks one of them (round robin) for a run that skips (already active), so a
  // probe never waits for another probe's per-alumno lease left by a killed identity-teams.
  const probes = pool.slice(0, 6);
  const probeAct = await identity.enqueue(
    {
      alumnoIds: probes,
      taskName: 'alumnos.tasks.activar_servicios_alumno',
      requestedBy: 'faults',
      enviarEmail: true,
    },
    CALL,
  );
  await waitTareas(stack, probeAct.taskIds.filter(Boolean), 120_000, 'the probe activation');

  const { schedule: interval } = await scheduler.saveSchedule(
    {
      schedule: {
        kind: {
          case: 'interval',
          value: { every: BigInt(options.scheduleEverySeconds), period: IntervalPeriod.SECONDS },
        },
      },
    },
    CALL,
  );
  const anchor = new Date(Math.floor(Date.now() / 1000) * 1000);
  const { periodicTask } = await scheduler.savePeriodicTask(
    {
      periodicTask: {
        name: 'Ingesta de aspirantes (faults)',
        task: 'alumnos.tasks.ingestar_aspirantes',
        enabled: true,
        intervalId: interval!.kind.value!.id,
        startTime: timestampFromDate(anchor),
      },
      requestedBy: 'faults',
    },
    CALL,
  );
  const periodicId = periodicTask!.id;

  // --- Workload and faults.
  const activationTasks = new Map<string, string[]>(probes.map((id, i) => [id, [probeAct.taskIds[i]!]]));
  const enqueuedActivations = new Set<string>(probes);
  const resetAsked = new Map<string, number>();
  const deleted = new Set<string>();
  const malformed = new Set<string>();
  let stop = false;
  const windowStart = Date.now();
  const faults: FaultRecord[] = [];
  const recoveries: Promise<void>[] = [];

  let probeNext = 0;
  const probe = async (): Promise<string> => {
    const p = await publisher.publish(
      'lucy.cmd.identity.crear_usuario_teams',
      CrearUsuarioTeamsCommandSchema,
      { alumnoId: probes[probeNext++ % probes.length]! },
      { taskType: 'alumnos.tasks.crear_usuario_teams_async', requestedBy: 'faults-probe', trigger: 'admin' },
    );
    return p.taskId;
  };

  const recover = async (rec: FaultRecord, since: number, schedulerToo: boolean) => {
    try {
      const deadline = since + options.recoveryTimeoutMs;
      await until(
        `recovery from ${rec.kind} (${rec.detail})`,
        () => stack.allReady(),
        options.recoveryTimeoutMs,
        250,
      );
      // New work flows again: a fresh probe every few seconds until one of them has finished (a probe caught in
      // the fault itself waits for its redelivery, which the drain checks; recovery is about new work).
      const sent: string[] = [];
      await until(
        `a probe task to finish after ${rec.kind}`,
        async () => {
          const id = await probe().catch(() => undefined);
          if (id) sent.push(id);
          const { rows } = await stack.db.query<{ n: string }>(
            'select count(*) n from tracker.tarea where id = any($1::uuid[]) and estado = any($2)',
            [sent, FINAL_STATES],
          );
          return Number(rows[0]!.n) > 0;
        },
        Math.max(1_000, deadline - Date.now()),
        3_000,
      );
      if (schedulerToo)
        await until(
          `a slot fired after ${rec.kind}`,
          async () =>
            (
              await stack.db.query(
                'select 1 from scheduler.fired_slot where periodic_task_id = $1 and fired_at > $2 limit 1',
                [periodicId, new Date(since)],
              )
            ).rowCount,
          options.recoveryTimeoutMs,
          500,
        );
      rec.recoveryMs = Date.now() - since;
      log(`recovered from ${rec.kind} (${rec.detail}) in ${(rec.recoveryMs / 1000).toFixed(1)} s`);
    } catch (err) {
      rec.error = err instanceof Error ? err.message : String(err);
      log(`NOT recovered from ${rec.kind}: ${rec.error}`);
    }
  };

  const inject = async (kind: FaultKind, plannedAtMs: number) => {
    const rec: FaultRecord = { kind, detail: '', plannedAtMs, at: new Date().toISOString() };
    faults.push(rec);
    let since = Date.now();
    let schedulerToo = false;
    const kill = (name: string, sig: NodeJS.Signals) => {
      rec.detail = `${sig} ${name} (pid ${stack.service(name).proc()?.child.pid})`;
      stack.service(name).kill(sig);
    };
    switch (kind) {
      case 'kill9:scheduler-leader': {
        const leader = (await stack.schedulerLeader()) ?? 'scheduler-a';
        kill(leader, 'SIGKILL');
        schedulerToo = true;
        break;
      }
      case 'kill9:task-tracker':
      case 'kill9:ingest-sial':
      case 'kill9:identity-teams':
      case 'kill9:notifier':
        kill(kind.slice('kill9:'.length), 'SIGKILL');
        break;
      case 'sigterm': {
        const name = createRng(options.seed + plannedAtMs).pick(stack.services.map((s) => s.name));
        kill(name, 'SIGTERM');
        schedulerToo = name.startsWith('scheduler');
        break;
      }
      case 'nats-restart':
        rec.detail = 'nats-server SIGTERM and start on the same port and store';
        await stack.nats.restart('SIGTERM');
        since = Date.now();
        schedulerToo = true;
        break;
      case 'postgres-restart': {
        const mode = createRng(options.seed + plannedAtMs).pick(['fast', 'immediate'] as const);
        rec.detail = `postgres stop -m ${mode} and start`;
        await stack.pg.restart(mode);
        since = Date.now();
        schedulerToo = true;
        break;
      }
      case 'netcut': {
        const which = createRng(options.seed + plannedAtMs).pick(['identityPg', 'notifierNats'] as const);
        rec.detail = `${which === 'identityPg' ? 'identity-teams ⟷ Postgres' : 'notifier ⟷ NATS'} cut ${options.outageMs} ms`;
        stack.proxies[which].cut();
        await sleep(options.outageMs);
        stack.proxies[which].restore();
        since = Date.now();
        break;
      }
      case 'graph-429':
        rec.detail = 'Graph: the next 40 requests answer 429 (Retry-After 1 s)';
        await stack.fake('graph', 'POST', '/__fake/faults', {
          throttle: { count: 40, retryAfterSeconds: 1 },
        });
        break;
      case 'graph-503':
        rec.detail = 'Graph: the next 40 requests answer 503 (Retry-After 1 s)';
        await stack.fake('graph', 'POST', '/__fake/faults', {
          status503: { count: 40, retryAfterSeconds: 1 },
        });
        break;
      case 'smtp-refuse':
        rec.detail = `SMTP relay refuses connections for ${options.outageMs} ms`;
        stack.proxies.smtp.cut();
        await sleep(options.outageMs);
        stack.proxies.smtp.restore();
        since = Date.now();
        break;
      case 'sial-timeout':
        rec.detail = 'SIAL: the next 3 requests never answer';
        await stack.fake('sial', 'POST', '/__fake/faults', { timeout: 3 });
        break;
    }
    log(`fault ${kind}: ${rec.detail}`);
    recoveries.push(recover(rec, since, schedulerToo));
  };

  const faultLoop = (async () => {
    for (const s of schedule) {
      const wait = windowStart + s.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        await inject(s.kind, s.atMs);
      } catch (err) {
        faults.push({
          kind: s.kind,
          detail: 'injection failed',
          plannedAtMs: s.atMs,
          at: new Date().toISOString(),
          error: String(err),
        });
      }
    }
  })();

  // Accounts the admin may reset or delete: active, their credentials e-mail delivered (a reset before it would
  // revoke the password that e-mail carries, and the notifier then refuses to send it, by design).
  const activeNotTouched = async (n: number): Promise<string[]> => {
    const rows = (
      await stack.db.query<{ alumno_id: string }>(
        `select c.alumno_id::text from identity.cuenta c
          where c.estado = 'activa'
            and exists (select 1 from notify.entrega e
                         where e.alumno_id = c.alumno_id::text and e.tipo = 'credenciales' and e.estado = 'enviada')
          order by c.activada_en`,
      )
    ).rows.map((r) => r.alumno_id);
    return rows.filter((id) => !probes.includes(id) && !resetAsked.has(id) && !deleted.has(id)).slice(0, n);
  };

  const steps: (() => Promise<void>)[] = [
    // A batch of 50 activations, as the admin sends them.
    async () => {
      const all = (await alumnos()).map((a) => a.id).filter((id) => !enqueuedActivations.has(id));
      const batch = all.slice(0, 50);
      if (batch.length === 0) return;
      const r = await identity.enqueue(
        {
          alumnoIds: batch,
          taskName: 'alumnos.tasks.activar_servicios_alumno',
          requestedBy: 'faults',
          enviarEmail: true,
        },
        CALL,
      );
      for (const id of batch) enqueuedActivations.add(id);
      r.taskIds.forEach((t, i) => {
        if (t) activationTasks.set(batch[i]!, [...(activationTasks.get(batch[i]!) ?? []), t]);
      });
      count('activations', r.taskIds.filter(Boolean).length);
      count('activations omitted or refused by the pre-check', r.taskIds.filter((t) => !t).length);
      count('activation batches');
    },
    // A batch of password resets (up to 50) of accounts already active.
    async () => {
      const batch = await activeNotTouched(rng.int(5, 50));
      if (batch.length === 0) return;
      const r = await identity.enqueue(
        {
          alumnoIds: batch,
          taskName: 'alumnos.tasks.resetear_password_y_enviar_email',
          requestedBy: 'faults',
          enviarEmail: true,
        },
        CALL,
      );
      r.taskIds.forEach((t, i) => {
        if (t) resetAsked.set(batch[i]!, (resetAsked.get(batch[i]!) ?? 0) + 1);
      });
      count('resets', r.taskIds.filter(Boolean).length);
    },
    // Deletions of test- accounts.
    async () => {
      for (const id of await activeNotTouched(rng.int(1, 3))) {
        await identity.deleteExternalAccount(
          { alumnoId: id, requestedBy: 'faults', motivo: 'prueba de fallas' },
          CALL,
        );
        deleted.add(id);
        count('deletions');
      }
    },
    // A manual ingestion, as the admin starts it.
    async () => {
      await ingest.startIngesta(
        {
          tipo: rng.pick([TipoIngesta.PREINSCRIPTOS, TipoIngesta.INGRESANTES]),
          requestedBy: 'faults',
        },
        CALL,
      );
      count('manual ingestions');
    },
    // SIAL changes: records modified and new applicants, for the next scheduled ingestion to bring.
    async () => {
      await stack.fake('sial', 'POST', '/__fake/touch', {
        tipo: 'aspirantes',
        count: rng.int(1, 5),
        change: 'both',
      });
      await stack.fake('sial', 'POST', '/__fake/records', { tipo: rng.pick(TIPOS), n: rng.int(1, 5) });
      count('sial changes');
    },
    // External JSON commands, as another university system publishes them (no Lucy-Task-Id).
    async () => {
      await publishExternal(stack, publisher, rng);
      count('external commands');
    },
    // Malformed messages: undecodable protobuf, broken JSON, a JSON command whose fields are invalid.
    async () => {
      const variant = rng.int(0, 2);
      const [subject, data, ct, type] =
        variant === 0
          ? ([
              'lucy.cmd.identity.activar_servicios',
              new Uint8Array([0xff, 0xff, 0xff, 0x0f, 0x01]),
              CONTENT_TYPE.protobuf,
              'alumnos.tasks.activar_servicios_alumno',
            ] as const)
          : variant === 1
            ? ([
                'lucy.cmd.notify.enviar_email',
                new TextEncoder().encode('{"alumnoId": 12'),
                CONTENT_TYPE.json,
                'alumnos.tasks.enviar_email_credenciales',
              ] as const)
            : ([
                'lucy.cmd.identity.resetear_password',
                new TextEncoder().encode('{"alumnoId": ""}'),
                CONTENT_TYPE.json,
                'alumnos.tasks.resetear_password_y_enviar_email',
              ] as const);
      const p = await publisher.publishRaw(subject, data, ct, {
        taskType: type,
        requestedBy: 'faults',
        trigger: 'external',
      });
      malformed.add(p.taskId);
      count('malformed');
    },
  ];
  const weights = [3, 2, 1, 1, 2, 2, 1];
  const workloadLoop = (async () => {
    while (!stop) {
      let r = rng.next() * weights.reduce((a, b) => a + b, 0);
      let i = 0;
      while (r >= weights[i]!) r -= weights[i++]!;
      try {
        await steps[i]!();
      } catch (err) {
        // An RPC or publish refused during a fault: the admin sees an error and sends again later.
        count('workload calls refused');
        if (process.env.FAULTS_DEBUG) log(`workload step ${i} refused: ${String(err)}`);
      }
      await sleep(options.stepMs);
    }
  })();

  await faultLoop;
  const untilWindowEnd = windowStart + options.faultWindowMs - Date.now();
  if (untilWindowEnd > 0) await sleep(untilWindowEnd);
  stop = true;
  await workloadLoop;
  clearInterval(rssTimer);
  sampleRss();
  log('faults and workload stopped; draining');
  const drainStart = Date.now();

  // --- Drain: faults cleared, everything recovered, the last changes ingested, every Tarea final.
  await stack.fake('graph', 'DELETE', '/__fake/faults').catch(() => undefined);
  await stack.fake('sial', 'DELETE', '/__fake/faults').catch(() => undefined);
  for (const p of Object.values(stack.proxies)) p.restore();
  await Promise.all(recoveries);
  await until('every service ready after the faults', () => stack.allReady(), options.drainTimeoutMs, 500);
  await retrying('the periodic task disabled', () =>
    scheduler.setEnabled({ id: periodicId, enabled: false, requestedBy: 'faults' }, CALL),
  );
  const disabledAt = Date.now();
  // The last SIAL changes: one more run of each tipo (aspirantes incremental, as the schedule runs it).
  const finals = [
    await publisher.publish(
      'lucy.cmd.ingest.ingestar_aspirantes',
      IngestarCommandSchema,
      {},
      {
        taskType: 'alumnos.tasks.ingestar_aspirantes',
        requestedBy: 'faults',
        trigger: 'admin',
      },
    ),
  ].map((p) => p.taskId);
  for (const tipo of [TipoIngesta.PREINSCRIPTOS, TipoIngesta.INGRESANTES])
    finals.push(
      (
        await retrying('a final manual ingestion', () =>
          ingest.startIngesta({ tipo, requestedBy: 'faults' }, CALL),
        )
      ).taskId,
    );
  await waitTareas(stack, finals, options.drainTimeoutMs, 'the final ingestions');
  await until(
    'every command with a final Tarea',
    async () => (await commandTareas(stack)).pending === 0,
    options.drainTimeoutMs,
    2_000,
  );
  const drainMs = Date.now() - drainStart;
  log(`drained in ${(drainMs / 1000).toFixed(1)} s; checking the invariants`);

  // --- Invariants.
  const invariants: Invariant[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    invariants.push({ name, ok, detail });
    log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  };
  const ct = await commandTareas(stack);
  check(
    'every command published has exactly one Tarea, in a final state',
    ct.missing.length === 0 && ct.notFinal.length === 0 && ct.extra === 0,
    `${ct.ids.size} task ids in the command stream (${ct.messages} messages), ${ct.tareas} Tareas; ` +
      `missing ${ct.missing.length} ${ct.missing.slice(0, 5).join(' ')}; not final ${ct.notFinal.length} ${ct.notFinal.slice(0, 5).join(' ')}; Tareas without a command ${ct.extra}`,
  );
  // Every Tarea has its Log rows: one that ran, its workers'; a skip, the tracker's INFO row with its reason.
  const noLogs = (
    await stack.db.query<{ id: string; tipo: string; estado: string }>(
      `select t.id::text, t.tipo, t.estado from tracker.tarea t
        where not exists (select 1 from tracker.log l where l.task_id = t.id)`,
    )
  ).rows;
  check(
    'every Tarea has its Logs',
    noLogs.length === 0,
    `${noLogs.length} Tareas without a Log row ${JSON.stringify(groupCount(noLogs.map((r) => `${r.tipo}/${r.estado}`)))} ${noLogs
      .slice(0, 3)
      .map((r) => r.id)
      .join(' ')}`,
  );
  const dlq = await readDeadLetters(stack);
  const dlqIds = dlq.map((d) => d.taskId);
  const unexpectedDlq = dlq.filter((d) => !malformed.has(d.taskId));
  const missingDlq = [...malformed].filter((id) => !dlqIds.includes(id));
  const doubleDlq = dlqIds.filter((id, i) => dlqIds.indexOf(id) !== i);
  check(
    'only the malformed messages are in the dead letters, each once',
    unexpectedDlq.length === 0 && missingDlq.length === 0 && doubleDlq.length === 0,
    `${malformed.size} malformed, ${dlq.length} dead letters; unexpected ${JSON.stringify(unexpectedDlq.slice(0, 5))}; missing ${missingDlq.length}; twice ${doubleDlq.length}`,
  );
  const failedNotMalformed = (
    await stack.db.query<{ id: string; tipo: string; mensaje_error: string }>(
      `select id::text, tipo, mensaje_error from tracker.tarea where estado = 'failed'`,
    )
  ).rows.filter((r) => !malformed.has(r.id));
  check(
    'no Tarea failed but the malformed ones',
    failedNotMalformed.length === 0,
    `${failedNotMalformed.length} failed: ${JSON.stringify(failedNotMalformed.slice(0, 5))}`,
  );

  // Accounts: one Graph user with one licence per activated alumno, deleted ones gone.
  const cuentas = (
    await stack.db.query<{ alumno_id: string; dni: string; estado: string }>(
      'select alumno_id::text, dni, estado from identity.cuenta',
    )
  ).rows;
  const dniOf = new Map((await alumnos()).map((a) => [a.id, a.dni]));
  const graphUsers = await stack.fake<
    {
      userPrincipalName: string;
      employeeId: string | null;
      deletedDateTime: string | null;
      assignedLicenses: unknown[];
    }[]
  >('graph', 'GET', '/__fake/users');
  const byDni = new Map<string, typeof graphUsers>();
  for (const u of graphUsers)
    if (u.employeeId) byDni.set(u.employeeId, [...(byDni.get(u.employeeId) ?? []), u]);
  const accountProblems: string[] = [];
  // An alumno must have an account when one of its activations completed (a preinscripto's is skipped by rule).
  const outcome = new Map(
    (
      await stack.db.query<{ id: string; estado: string }>(
        'select id::text, estado from tracker.tarea where id = any($1::uuid[])',
        [[...activationTasks.values()].flat()],
      )
    ).rows.map((r) => [r.id, r.estado]),
  );
  const activatedIds = [...activationTasks]
    .filter(([, ts]) => ts.some((t) => outcome.get(t) === 'completed'))
    .map(([id]) => id);
  for (const id of activatedIds) {
    const dni = dniOf.get(id);
    const users = byDni.get(dni ?? '') ?? [];
    const live = users.filter((u) => !u.deletedDateTime);
    if (deleted.has(id)) {
      if (live.length !== 0) accountProblems.push(`${dni}: deleted but ${live.length} live Graph users`);
      if (users.length !== 1) accountProblems.push(`${dni}: ${users.length} Graph users (deleted included)`);
    } else {
      if (live.length !== 1) accountProblems.push(`${dni}: ${live.length} live Graph users`);
      else if (live[0]!.assignedLicenses.length !== 1)
        accountProblems.push(`${dni}: ${live[0]!.assignedLicenses.length} licences`);
    }
  }
  const unknownUsers = graphUsers.filter((u) => !activatedIds.some((id) => dniOf.get(id) === u.employeeId));
  check(
    'every activation asked for has exactly one Graph user with one licence (deleted ones removed)',
    accountProblems.length === 0 && unknownUsers.length === 0,
    `${[...activationTasks.values()].flat().length} activations published, ${activatedIds.length} alumnos activated, ${deleted.size} deleted, ${graphUsers.length} Graph users; problems ${accountProblems.length} ${accountProblems.slice(0, 5).join('; ')}; users nobody asked for ${unknownUsers.length}`,
  );
  check(
    'every activated account is active or deleted in identity-teams',
    cuentas.every((c) => (deleted.has(c.alumno_id) ? c.estado === 'eliminada' : c.estado === 'activa')),
    JSON.stringify(
      groupCount(cuentas.map((c) => `${deleted.has(c.alumno_id) ? 'deleted' : 'kept'}/${c.estado}`)),
    ),
  );

  // E-mails: exactly one credentials e-mail per activation, one per reset, none without a delivery record.
  const mail = await emailsByKind(stack);
  const mailProblems: string[] = [];
  for (const id of activatedIds) {
    const n = mail.distinct.get(`${id}/credenciales`) ?? 0;
    if (n !== 1) mailProblems.push(`${dniOf.get(id)}: ${n} credentials e-mails`);
  }
  for (const [id, asked] of resetAsked) {
    const n = mail.distinct.get(`${id}/password_reset`) ?? 0;
    if (n !== asked) mailProblems.push(`${dniOf.get(id)}: ${n} reset e-mails for ${asked} resets`);
  }
  check(
    'exactly one credentials e-mail per activation and one per reset in the SMTP sink',
    mailProblems.length === 0 && mail.orphans === 0,
    `${mail.messages} messages in the sink (${mail.uniqueIds} distinct Message-IDs, ${mail.resent} resent with the same Message-ID); kinds ${JSON.stringify(mail.kinds)}; problems ${mailProblems.length} ${mailProblems.slice(0, 5).join('; ')}; without a delivery record ${mail.orphans}`,
  );

  // Alumnos: every one SIAL serves stored once, no stored name blanked.
  const sialProblems: string[] = [];
  let sialRecords = 0;
  const stored = (
    await stack.db.query<{
      tipo_documento: string;
      dni: string;
      nombre: string | null;
      apellido: string | null;
    }>('select tipo_documento, dni, nombre, apellido from ingest.alumno')
  ).rows;
  const storedBy = new Map<string, (typeof stored)[number][]>();
  for (const s of stored) storedBy.set(s.dni, [...(storedBy.get(s.dni) ?? []), s]);
  for (const tipo of TIPOS) {
    const list = await sialList(stack, tipo);
    sialRecords += list.length;
    for (const r of list) {
      const rows = storedBy.get(String(r.nrodoc)) ?? [];
      if (rows.length !== 1) sialProblems.push(`${tipo} ${r.nrodoc}: stored ${rows.length} times`);
      else if (!rows[0]!.nombre?.trim() || !rows[0]!.apellido?.trim())
        sialProblems.push(`${tipo} ${r.nrodoc}: names blank`);
    }
  }
  check(
    'every alumno SIAL serves is stored once, no stored name blanked',
    sialProblems.length === 0,
    `${sialRecords} SIAL records, ${stored.length} stored; problems ${sialProblems.length} ${sialProblems.slice(0, 5).join('; ')}`,
  );

  // Schedule slots: every slot from the anchor to the disabling fired exactly once or was recorded as missed.
  const slots = (
    await stack.db.query<{ due_at: Date; fired_at: Date | null; missed_at: Date | null; task_id: string }>(
      'select due_at, fired_at, missed_at, task_id::text from scheduler.fired_slot where periodic_task_id = $1 order by due_at',
      [periodicId],
    )
  ).rows;
  const everyMs = options.scheduleEverySeconds * 1000;
  const slotProblems: string[] = [];
  const lastDue = Math.floor((disabledAt - anchor.getTime()) / everyMs) * everyMs + anchor.getTime();
  const due = slots.map((s) => s.due_at.getTime());
  for (let t = anchor.getTime() + everyMs, k = 0; t <= lastDue - everyMs; t += everyMs, k++) {
    if (!due.includes(t)) slotProblems.push(`slot ${new Date(t).toISOString()} neither fired nor missed`);
  }
  for (const s of slots)
    if (!s.fired_at && !s.missed_at)
      slotProblems.push(`slot ${s.due_at.toISOString()} claimed, never settled`);
  const slotCommands = await scheduledCommands(stack, periodicId);
  const fired = slots.filter((s) => s.fired_at && !s.missed_at);
  for (const s of fired) {
    const n = slotCommands.get(`${periodicId}@${s.due_at.toISOString()}`) ?? 0;
    if (n !== 1) slotProblems.push(`slot ${s.due_at.toISOString()}: ${n} commands in the stream`);
  }
  const strays = [...slotCommands.keys()].filter(
    (k) => !fired.some((s) => `${periodicId}@${s.due_at.toISOString()}` === k),
  );
  check(
    'every schedule slot of the run fired exactly once or is recorded as missed',
    slotProblems.length === 0 && strays.length === 0,
    `${slots.length} slots (${fired.length} fired, ${slots.length - fired.length} missed); problems ${slotProblems.length} ${slotProblems.slice(0, 5).join('; ')}; commands of no fired slot ${strays.length}`,
  );

  const healthy = await stack.allReady();
  const crashes = Object.fromEntries(
    stack.services.filter((s) => s.unexpectedExits.length).map((s) => [s.name, s.unexpectedExits]),
  );
  const startFailures = Object.fromEntries(
    stack.services.filter((s) => s.startFailures.length).map((s) => [s.name, s.startFailures]),
  );
  check(
    'no service left unhealthy, none crashed',
    healthy && Object.keys(crashes).length === 0,
    `ready ${healthy}; exits nobody caused ${JSON.stringify(crashes)}; fail-fast start-ups (restarted) ${JSON.stringify(startFailures)}`,
  );
  const unrecovered = faults.filter((f) => f.recoveryMs === undefined);
  check(
    'the system recovered by itself after every fault',
    unrecovered.length === 0,
    `${faults.length - unrecovered.length}/${faults.length} recovered; ${unrecovered.map((f) => `${f.kind}: ${f.error}`).join('; ')}`,
  );

  const byTipo: Record<string, Record<string, number>> = {};
  for (const r of (
    await stack.db.query<{ tipo: string | null; estado: string; n: string }>(
      'select tipo, estado, count(*) n from tracker.tarea group by 1, 2',
    )
  ).rows)
    (byTipo[r.tipo ?? '?'] ??= {})[r.estado] = Number(r.n);
  return {
    seed: options.seed,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    startupMs,
    faultWindowMs: options.faultWindowMs,
    drainMs,
    schedule,
    faults,
    tasks: { total: ct.tareas, byTipo },
    workload,
    invariants,
    rssSamples,
    rss: stack.services.map((s) => ({
      name: s.name,
      startMb: rssStart[s.name],
      endMb: s.rssMb(),
      restarts: s.starts - 1,
    })),
    unexpectedExits: crashes,
    startFailures,
  };
}

function groupCount(keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/** Waits until every one of the Tareas is in a final state. */
async function waitTareas(stack: Stack, ids: string[], timeoutMs: number, what: string): Promise<void> {
  await until(
    what,
    async () => {
      const { rows } = await stack.db.query<{ n: string }>(
        'select count(*) n from tracker.tarea where id = any($1::uuid[]) and estado = any($2)',
        [ids, FINAL_STATES],
      );
      return Number(rows[0]!.n) === ids.length;
    },
    timeoutMs,
    500,
  );
}

/** External JSON commands without Lucy-Task-Id: the worker and task-tracker derive the same id. */
async function publishExternal(stack: Stack, publisher: CommandPublisher, rng: Rng): Promise<void> {
  const ingestion = rng.next() < 0.5;
  const prepared = ingestion
    ? publisher.prepare(
        'lucy.cmd.ingest.ingestar_ingresantes',
        new TextEncoder().encode('{}'),
        CONTENT_TYPE.json,
        {
          taskType: 'alumnos.tasks.ingestar_ingresantes',
          requestedBy: 'sistema-externo',
          trigger: 'external',
        },
      )
    : publisher.prepare(
        'lucy.cmd.identity.crear_usuario_teams',
        new TextEncoder().encode(
          JSON.stringify(
            toJsonLike(
              create(CrearUsuarioTeamsCommandSchema, {
                alumnoId: (
                  await stack.db.query<{ id: string }>(
                    "select alumno_id::text id from identity.cuenta where estado = 'activa' order by activada_en limit 1",
                  )
                ).rows[0]?.id,
              }),
            ),
          ),
        ),
        CONTENT_TYPE.json,
        {
          taskType: 'alumnos.tasks.crear_usuario_teams_async',
          requestedBy: 'sistema-externo',
          trigger: 'external',
        },
      );
  prepared.headers.delete(H.taskId);
  await stack.handles.js.publish(prepared.subject, prepared.data, { headers: prepared.headers });
}

function toJsonLike(m: { alumnoId: string }): Record<string, unknown> {
  return { alumnoId: m.alumnoId };
}

/** Every message of a stream, by sequence (NATS 2.9 has no multi-filter consumers). */
async function streamMessages(
  stack: Stack,
  stream: string,
): Promise<{ seq: number; subject: string; time: number; header: (n: string) => string | undefined }[]> {
  const jsm = stack.handles.jsm;
  const info = await jsm.streams.info(stream);
  const out: { seq: number; subject: string; time: number; header: (n: string) => string | undefined }[] = [];
  if (info.state.messages === 0) return out;
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m) continue;
    out.push({
      seq,
      subject: m.subject,
      time: m.time.getTime(),
      header: (n) => m.header?.get(n) || undefined,
    });
  }
  return out;
}

/** The command stream against tracker.tarea: the ids, those without a Tarea, not final, and Tareas of no command. */
async function commandTareas(stack: Stack) {
  const msgs = await streamMessages(stack, stack.names.streams.cmd);
  const ids = new Set(
    msgs.map((m) => m.header(H.taskId) ?? taskIdFromDelivery(stack.names.streams.cmd, m.seq, m.time)),
  );
  const { rows } = await stack.db.query<{ id: string; estado: string }>(
    'select id::text, estado from tracker.tarea',
  );
  const tareas = new Map(rows.map((r) => [r.id, r.estado]));
  const missing = [...ids].filter((id) => !tareas.has(id));
  const notFinal = [...ids].filter(
    (id) => tareas.has(id) && !(FINAL_STATES as readonly string[]).includes(tareas.get(id)!),
  );
  const extra = [...tareas.keys()].filter((id) => !ids.has(id)).length;
  return {
    messages: msgs.length,
    ids,
    tareas: tareas.size,
    missing,
    notFinal,
    extra,
    pending: missing.length + notFinal.length,
  };
}

async function readDeadLetters(stack: Stack): Promise<{ taskId: string; reason: string; subject: string }[]> {
  return (await streamMessages(stack, stack.names.streams.dlq)).map((m) => ({
    taskId: m.header(H.taskId) ?? '',
    reason: (m.header(H.dlqReason) ?? '').slice(0, 120),
    subject: m.subject,
  }));
}

/** Commands the scheduler fired for the periodic task, counted by their Nats-Msg-Id (the slot key). */
async function scheduledCommands(stack: Stack, periodicId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of await streamMessages(stack, stack.names.streams.cmd)) {
    const id = m.header(H.msgId);
    if (id?.startsWith(`${periodicId}@`)) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** The SMTP sink's messages grouped by alumno and kind, through notifier's delivery records (by Message-ID). */
async function emailsByKind(stack: Stack) {
  const list = await stack.fake<{ messages: { id: string }[] }>(
    'smtp',
    'GET',
    '/api/messages?limit=10000000',
  );
  const entregas = (
    await stack.db.query<{ message_id: string; tipo: string; alumno_id: string }>(
      "select message_id, tipo, alumno_id from notify.entrega where message_id <> ''",
    )
  ).rows;
  const norm = (s: string) => s.trim().replace(/^<|>$/g, '').toLowerCase();
  const entregaBy = new Map(entregas.map((e) => [norm(e.message_id), e]));
  const seen = new Map<string, number>();
  let orphans = 0;
  for (const { id } of list.messages) {
    const full = await stack.fake<{ messageId?: string; headers?: Record<string, string> }>(
      'smtp',
      'GET',
      `/api/messages/${id}`,
    );
    const mid = norm(full.messageId ?? full.headers?.['message-id'] ?? '');
    seen.set(mid, (seen.get(mid) ?? 0) + 1);
    if (!entregaBy.has(mid)) orphans++;
  }
  const distinct = new Map<string, number>();
  const kinds: Record<string, number> = {};
  for (const mid of seen.keys()) {
    const e = entregaBy.get(mid);
    if (!e) continue;
    const key = `${e.alumno_id}/${e.tipo}`;
    distinct.set(key, (distinct.get(key) ?? 0) + 1);
    kinds[e.tipo] = (kinds[e.tipo] ?? 0) + 1;
  }
  return {
    messages: list.messages.length,
    uniqueIds: seen.size,
    resent: [...seen.values()].reduce((a, n) => a + n - 1, 0),
    orphans,
    distinct,
    kinds,
  };
}

async function sialList(stack: Stack, tipo: string): Promise<{ nrodoc: number }[]> {
  const res = await fetch(`${stack.fakes.sialUrl}/webservice/sial/V2/04/${tipo}/listas/`, {
    headers: { authorization: `Basic ${Buffer.from('usuario:contrasena').toString('base64')}` },
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok) throw new Error(`SIAL ${tipo}: ${res.status}`);
  return (await res.json()) as { nrodoc: number }[];
}
