import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import {
  AckPolicy,
  DeliverPolicy,
  type Consumer,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { Kvm, type KV } from '@nats-io/kv';
import { decode } from './codec.js';
import { commandProblems } from './field-rules.js';
import { deadLetter } from './dlq.js';
import {
  DecodeError,
  errorMessage,
  PermanentError,
  SkipTask,
  ValidationError,
  type FieldError,
} from './errors.js';
import { H, header, newTraceparent, parseTrigger, type TaskContext } from './headers.js';
import type { Logger } from './logger.js';
import { consumerDuration, consumerMessages, consumerRecreated } from './metrics.js';
import type { Names } from './names.js';
import { randomHex } from './random.js';
import { createTaskReporter, publishLog, type TaskReporter } from './reporter.js';
import { createRunnerIO, type RunnerIO, type RunnerKvEntry } from './runner-io.js';
import { taskIdFromDelivery } from './task-id.js';
import { inSpan, SpanKind, telemetryEnabled, type SpanScope } from './otel.js';
import { withTraceparent } from './tracing.js';

/** What a handler returns on success. */
export interface HandlerResult {
  /** Entities affected (cantidad_entidades); default 1. */
  cantidadEntidades?: number;
  /** Result details for the Tarea; secret-named keys are redacted. */
  detalles?: Record<string, unknown>;
}

/** Everything a command handler gets. */
export interface CommandContext<M> {
  readonly message: M;
  readonly task: TaskContext;
  /**
   * Attempt number, from 1, counted by the runner (not JetStream's delivery count): a retry after a failure or a
   * crash is a new attempt; a redelivery while the task runs, a re-report of a recorded outcome and a hand-back at
   * shutdown are not.
   */
  readonly attempt: number;
  readonly reporter: TaskReporter;
  readonly logger: Logger;
  /** Aborted when the worker is stopping; long handlers should stop early and throw (the task is handed back). */
  readonly signal: AbortSignal;
  /** Extends the ack deadline now (the runner also does it periodically). */
  working(): void;
}

/** Options of {@link createCommandWorker}. */
export interface CommandWorkerOptions<D extends DescMessage> {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  logger: Logger;
  /** Durable consumer name; says who consumes what, e.g. `ingest-sial_ingestar_aspirantes`. */
  durable: string;
  /** Canonical command subject, e.g. `lucy.cmd.ingest.ingestar_aspirantes`. */
  subject: string;
  /** Registered task name, used when a publisher omitted `Lucy-Task-Type`. */
  taskType: string;
  schema: D;
  /** Semantic validation after decoding; an error list dead-letters the message. */
  validate?: (message: MessageShape<D>) => FieldError[];
  /** Alumno the command concerns, reported in `started`. */
  alumnoIdOf?: (message: MessageShape<D>) => string | undefined;
  handle: (ctx: CommandContext<MessageShape<D>>) => Promise<HandlerResult | void>;
  /** Worker identity for events, e.g. `ingest-sial/host-123`. Distinct per process. */
  worker: string;
  /** Bucket of cancelled task ids; when given, a cancelled task is skipped. */
  cancellations?: KV;
  /** Messages processed at once; default 4. */
  concurrency?: number;
  /** Attempts before a transiently failing message is dead-lettered; default 5. */
  maxAttempts?: number;
  /** Ack deadline in ms; default 30 000. Heartbeats (`working()`) are sent every third of it. */
  ackWaitMs?: number;
  /** Delay before redelivery after a transient failure, by attempt; default exponential 1 s · 4^(n−1), max 5 min. */
  backoffMs?: (attempt: number) => number;
  /** Time allowed for in-flight handlers when stopping; default 30 000 ms. */
  drainTimeoutMs?: number;
  /**
   * The task outcome store (attempts, run and outcome per task id). Default: the bucket `names.buckets.outcomes`,
   * created by the runner on start.
   */
  outcomes?: KV;
  /** Last acknowledged stream sequence per durable. Default: `names.buckets.positions`, created on start. */
  positions?: KV;
  /**
   * The connection `js` was made from; default the client's own. The runner's hot-path I/O (runner-io.ts) goes
   * through it; without one, every call is the library's `js.publish` / `kv` request.
   */
  nc?: NatsConnection;
}

/** A running consumer. */
export interface CommandWorker {
  /** Creates or updates the durable consumer and starts pulling. */
  start(): Promise<void>;
  /**
   * Stops pulling, waits for in-flight handlers (bounded by the drain timeout; handlers see `signal` aborted),
   * and hands back what did not finish: no attempt is used up and nothing is reported as failed.
   */
  stop(): Promise<void>;
  /** Handlers running now. */
  inFlight(): number;
}

/** How one run of a task ended, as the runner records it and reports it (again, on a redelivery). */
export type TaskDecision =
  | { kind: 'succeeded'; cantidadEntidades: number; detalles?: Record<string, unknown> | undefined }
  | { kind: 'skipped'; reason: string; detalles?: Record<string, unknown> | undefined }
  | { kind: 'failed'; mensaje: string; code: string; detalles?: Record<string, unknown> | undefined }
  | { kind: 'retry'; mensaje: string; code: string; delayMs: number }
  | {
      kind: 'dead_lettered';
      mensaje: string;
      reason: string;
      /** Stream sequence of the command that was dead-lettered; a copy of the task is not dead-lettered again. */
      seq?: number;
    }
  | { kind: 'interrupted' };

/** The runner's durable record of a task (key: task id in the outcomes bucket). */
export interface TaskOutcomeRecord {
  /** Attempt of the last run, from 1. */
  attempt: number;
  /** Id of the last run (part of its events' `Nats-Msg-Id`). */
  run: string;
  /** Worker that ran it. */
  worker: string;
  /** `running` while it runs (refreshed with every heartbeat), then the decision. */
  state: 'running' | TaskDecision['kind'];
  /** When the state was written (ISO 8601). */
  at: string;
  decision?: TaskDecision;
}

const FINAL_DECISIONS: ReadonlyArray<TaskDecision['kind']> = [
  'succeeded',
  'skipped',
  'failed',
  'dead_lettered',
];

const defaultBackoff = (attempt: number) => Math.min(1000 * 4 ** Math.max(0, attempt - 1), 5 * 60_000);
/** Outcome records outlive the 14-day command stream, so every redelivery still finds its outcome. */
const OUTCOME_TTL_MS = 15 * 24 * 60 * 60 * 1000;
const PULL_EXPIRES_MS = 10_000;
const POSITION_EVERY_MS = 1000;

/** Where a durable consumer was (re-)created from. */
export type ConsumerStart = 'existing' | 'first' | 'recorded';

/** Options of {@link ensureConsumer}. */
export interface EnsureConsumerOptions {
  ackWaitMs: number;
  maxAckPending: number;
  /**
   * Last acknowledged stream sequences by durable (see {@link recordConsumerPosition}). When given, a durable
   * that is missing but has a recorded position is re-created right after it, never from the stream's start.
   */
  positions?: KV;
}

/**
 * Creates or updates a durable pull consumer on a stream with one filter subject. A durable created for the first
 * time (no recorded position) delivers every stored message of its subject; one that was deleted and has a
 * recorded position restarts just after it (`recorded`), so history is never replayed by surprise.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filterSubject: string,
  options: EnsureConsumerOptions,
): Promise<ConsumerStart> {
  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    filter_subject: filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs),
    // Attempts are counted by the runner, which dead-letters the last one; JetStream must not drop silently.
    max_deliver: -1,
    max_ack_pending: options.maxAckPending,
  };
  try {
    await jsm.consumers.info(stream, durable);
    await jsm.consumers.update(stream, durable, {
      ack_wait: config.ack_wait!,
      max_ack_pending: config.max_ack_pending!,
      max_deliver: config.max_deliver!,
      filter_subject: filterSubject,
    });
    return 'existing';
  } catch (err) {
    if (!/not found|10014/i.test(errorMessage(err))) throw err;
  }
  const recorded = options.positions ? await readConsumerPosition(options.positions, durable) : undefined;
  if (recorded !== undefined) {
    config.deliver_policy = DeliverPolicy.StartSequence;
    config.opt_start_seq = recorded + 1;
  }
  try {
    await jsm.consumers.add(stream, config);
  } catch (err) {
    // Another replica re-created it between our info and add.
    if (!/already in use|exists/i.test(errorMessage(err))) throw err;
    return 'existing';
  }
  return recorded === undefined ? 'first' : 'recorded';
}

/** The recorded last acknowledged stream sequence of a durable, if any. */
export async function readConsumerPosition(positions: KV, durable: string): Promise<number | undefined> {
  const e = await positions.get(durable);
  if (!e || e.operation !== 'PUT') return undefined;
  const n = Number(e.string());
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * Records a durable's ack floor (every message up to it is acknowledged) so a lost durable can be re-created
 * from there; a position never moves back. Returns the recorded sequence.
 */
export async function recordConsumerPosition(
  jsm: JetStreamManager,
  positions: KV,
  stream: string,
  durable: string,
): Promise<number> {
  const info = await jsm.consumers.info(stream, durable);
  const floor = info.ack_floor.stream_seq;
  const known = await readConsumerPosition(positions, durable);
  if (known === undefined || floor > known) await positions.put(durable, String(floor));
  return Math.max(floor, known ?? 0);
}

/** Opens (creating when missing, with `replicas` JetStream replicas) the runner's buckets. */
export async function openRunnerBuckets(
  js: JetStreamClient,
  names: Names,
  replicas = 1,
): Promise<{ outcomes: KV; positions: KV }> {
  const kvm = new Kvm(js);
  const createOrOpen = async (name: string, opts: Parameters<Kvm['create']>[1]) => {
    try {
      return await kvm.create(name, opts);
    } catch (err) {
      if (!/already in use|different configuration|10058/i.test(String(err))) throw err;
      return kvm.open(name);
    }
  };
  const [outcomes, positions] = await Promise.all([
    createOrOpen(names.buckets.outcomes, { history: 1, replicas, ttl: OUTCOME_TTL_MS }),
    createOrOpen(names.buckets.positions, { history: 1, replicas }),
  ]);
  return { outcomes, positions };
}

/** Reads the runner's record of a task, if any. */
export async function readTaskOutcome(
  outcomes: KV,
  taskId: string,
): Promise<{ record: TaskOutcomeRecord; revision: number } | undefined> {
  const e = await outcomes.get(taskId);
  if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
  return { record: e.json<TaskOutcomeRecord>(), revision: e.revision };
}

/** Reads the task context of a delivered command (deriving a task id when the publisher set none). */
export function taskContextOf(msg: JsMsg, fallbackTaskType: string): TaskContext {
  const h = msg.headers;
  return {
    taskId:
      header(h, H.taskId) ??
      taskIdFromDelivery(msg.info.stream, msg.info.streamSequence, Math.floor(msg.info.timestampNanos / 1e6)),
    taskType: header(h, H.taskType) ?? fallbackTaskType,
    requestedBy: header(h, H.requestedBy) ?? 'externo',
    trigger: parseTrigger(header(h, H.trigger)),
    traceparent: header(h, H.traceparent) ?? newTraceparent(),
    parentTaskId: header(h, H.parentTaskId),
  };
}

/** One task this process is running, with every delivery of it received meanwhile. */
interface Running {
  readonly taskId: string;
  readonly msgs: JsMsg[];
  /** Set once the messages were acked, nak'ed or handed back: later outcomes of the handler are ignored. */
  settled: boolean;
  /** The claim in the outcomes bucket, once taken. */
  claim?: { record: TaskOutcomeRecord; revision: number };
  /** The last write of the claim: writes are serialised so a heartbeat never races the outcome. */
  writes?: Promise<unknown>;
}

class SettleError extends Error {
  override readonly name = 'SettleError';
}

/**
 * The consumer runner of every worker. What it guarantees (docs/architecture.md, "The consumer runner"):
 * - it pulls a message only for a free slot, so nothing waits unattended while its ack deadline runs out;
 * - a task id runs at most once at a time: a redelivery of a task this process runs joins it (kept alive with
 *   `working()`, settled with it), and one that another live process runs is handed back with a delay;
 * - the outcome of every run is recorded in the outcomes bucket before it is reported; a redelivery of a task whose
 *   outcome is recorded reports it again (same `Nats-Msg-Id`s) instead of running the work again, so a failed
 *   publish or ack after the handler is never a task failure;
 * - attempts are counted by the runner (a crash or a failure is an attempt; a redelivery, a re-report or a
 *   hand-back at `stop()` is not); each run's events carry its attempt and run id in their `Nats-Msg-Id`;
 * - a missing durable is re-created from its recorded position, with a WARNING Log and a metric.
 */
export function createCommandWorker<D extends DescMessage>(options: CommandWorkerOptions<D>): CommandWorker {
  const concurrency = options.concurrency ?? 4;
  const maxAttempts = options.maxAttempts ?? 5;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const heartbeatMs = Math.max(100, Math.floor(ackWaitMs / 3));
  const backoff = options.backoffMs ?? defaultBackoff;
  const stream = options.names.streams.cmd;
  const filter = options.names.full(options.subject);
  const log = options.logger.child({ consumer: options.durable });
  const stopController = new AbortController();
  const active = new Map<string, Running>();
  const running = new Set<Promise<void>>();
  let buckets: { outcomes: KV; positions: KV } | undefined;
  let consumer: Promise<Consumer> | undefined;
  let loops: Promise<unknown> | undefined;
  let positionTimer: NodeJS.Timeout | undefined;
  const sleepers = new Set<() => void>();
  const slotWaiters = new Set<() => void>();
  /** The open pull request, stopped by `stop()`. */
  let pulling: { stop(err?: Error): void } | undefined;
  const outcome = (o: string) => consumerMessages.inc({ consumer: options.durable, outcome: o });
  const nc = options.nc ?? (options.js as unknown as { nc?: NatsConnection }).nc;
  const io: RunnerIO | undefined = nc ? createRunnerIO(nc) : undefined;
  const ioPublish = io ? (s: string, d: Uint8Array, h: MsgHdrs) => io.publish(s, d, h) : undefined;

  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const done = () => {
        clearTimeout(t);
        sleepers.delete(done);
        r();
      };
      const t = setTimeout(done, ms);
      sleepers.add(done);
    });

  /** Set after a failure that may mean a bucket was deleted (a KV call on a missing bucket just times out). */
  let checkBuckets = false;

  /** Forgets the runner's own buckets when one was deleted, so the next call re-creates it instead of failing forever. */
  async function recheckBuckets(): Promise<void> {
    if (!checkBuckets || !buckets) return;
    checkBuckets = false;
    const own = [
      options.outcomes ? undefined : options.names.buckets.outcomes,
      options.positions ? undefined : options.names.buckets.positions,
    ].filter((b): b is string => b !== undefined);
    for (const bucket of own) {
      try {
        await options.jsm.streams.info(`KV_${bucket}`);
      } catch (err) {
        if (!/not found|10059/i.test(errorMessage(err))) return;
        log.warn({ bucket }, 'a consumer runner bucket was missing; re-creating it');
        buckets = undefined;
        return;
      }
    }
  }

  async function openBuckets() {
    await recheckBuckets();
    if (!buckets) {
      const opened =
        options.outcomes && options.positions
          ? { outcomes: options.outcomes, positions: options.positions }
          : await openRunnerBuckets(options.js, options.names);
      buckets = {
        outcomes: options.outcomes ?? opened.outcomes,
        positions: options.positions ?? opened.positions,
      };
    }
    return buckets;
  }

  async function ensure(): Promise<void> {
    const b = await openBuckets();
    const start = await ensureConsumer(options.jsm, stream, options.durable, filter, {
      ackWaitMs,
      maxAckPending: Math.max(concurrency * 4, 16),
      positions: b.positions,
    });
    if (start !== 'recorded') return;
    const from = (await readConsumerPosition(b.positions, options.durable)) ?? 0;
    consumerRecreated.inc({ consumer: options.durable, from: 'recorded' });
    log.warn({ from: from + 1 }, 'durable consumer was missing; re-created from its recorded position');
    await publishLog(options.js, options.names, {
      level: 'WARNING',
      module: 'worker',
      message:
        `El consumidor ${options.durable} no existía y se volvió a crear desde la secuencia ${from + 1} ` +
        `(la siguiente a la última confirmada); no se repiten comandos ya procesados.`,
      detalles: { consumidor: options.durable, stream, secuencia_inicial: from + 1 },
    }).catch((err: unknown) => log.error({ err: errorMessage(err) }, 'could not publish the WARNING Log'));
  }

  const currentConsumer = () =>
    (consumer ??= (async () => {
      await ensure();
      return options.js.consumers.get(stream, options.durable);
    })().catch((err: unknown) => {
      consumer = undefined;
      checkBuckets = true;
      throw err;
    }));

  /** Records the ack floor at most once a second, trailing, so a re-created durable starts after it. */
  function schedulePosition(): void {
    if (positionTimer || !buckets) return;
    const b = buckets;
    positionTimer = setTimeout(() => {
      recordConsumerPosition(options.jsm, b.positions, stream, options.durable)
        .catch((err: unknown) => {
          checkBuckets = true;
          log.debug({ err: errorMessage(err) }, 'could not record the position');
        })
        .finally(() => {
          positionTimer = undefined;
        });
    }, POSITION_EVERY_MS);
    positionTimer.unref();
  }

  const quietly = (f: () => void) => {
    try {
      f();
    } catch {
      // Connection closed: JetStream redelivers after the ack deadline.
    }
  };
  const nakAll = (r: Running, delayMs?: number) => r.msgs.forEach((m) => quietly(() => m.nak(delayMs)));
  const workingAll = (r: Running) => r.msgs.forEach((m) => quietly(() => m.working()));
  const ackAll = (r: Running) => {
    // Without confirmation (`ackAck` is one more round trip per task): the outcome is recorded and its events are
    // stored before this, so an ack that is lost only means a redelivery after the ack wait, which reports the
    // recorded outcome again under the same `Nats-Msg-Id`s. A closed connection throws here: a settle error.
    for (const m of r.msgs) m.ack();
  };

  async function claimFor(
    outcomes: KV,
    taskId: string,
    known: { revision: number } | undefined,
    record: TaskOutcomeRecord,
  ): Promise<number | undefined> {
    try {
      if (io) return await io.kvWrite(outcomes, taskId, JSON.stringify(record), known?.revision ?? 0);
      return known
        ? await outcomes.update(taskId, JSON.stringify(record), known.revision)
        : await outcomes.create(taskId, JSON.stringify(record));
    } catch (err) {
      if (/wrong last sequence|key exists|10071/i.test(errorMessage(err))) return undefined;
      throw err;
    }
  }

  /** Writes a new state over our claim; false when another process took the task over meanwhile. */
  function writeClaim(r: Running, patch: Partial<TaskOutcomeRecord>): Promise<boolean> {
    const write = async (): Promise<boolean> => {
      if (!r.claim || !buckets) return false;
      for (let tries = 0; tries < 3; tries++) {
        const record = { ...r.claim.record, ...patch, at: new Date().toISOString() };
        const revision = await claimFor(buckets.outcomes, r.taskId, r.claim, record);
        if (revision !== undefined) {
          r.claim = { record, revision };
          return true;
        }
        // A write of ours we did not see land (a timeout that still reached the server) moves the revision too.
        const now = await readTaskOutcome(buckets.outcomes, r.taskId);
        if (!now || now.record.run !== r.claim.record.run) return false;
        r.claim = now;
      }
      return false;
    };
    const op = (r.writes ?? Promise.resolve()).then(write, write);
    r.writes = op.catch(() => false);
    return op;
  }

  /** Publishes a decision's events and settles every delivery of the task accordingly. */
  async function report(
    r: Running,
    reporter: TaskReporter,
    d: TaskDecision,
    msg: JsMsg,
    task: TaskContext,
  ): Promise<void> {
    try {
      switch (d.kind) {
        case 'succeeded':
          await reporter.succeeded(d.cantidadEntidades, d.detalles);
          ackAll(r);
          break;
        case 'skipped':
          await reporter.skipped(d.reason, d.detalles);
          ackAll(r);
          break;
        case 'failed':
          await reporter.failed(d.mensaje, {
            willRetry: false,
            code: d.code,
            ...(d.detalles ? { detalles: d.detalles } : {}),
          });
          ackAll(r);
          break;
        case 'retry':
          await reporter.failed(d.mensaje, { willRetry: true, code: d.code, retryInMs: d.delayMs });
          nakAll(r, d.delayMs);
          break;
        case 'dead_lettered': {
          // Only the command that was dead-lettered gets the entry (a re-report of it publishes it again, which
          // JetStream de-duplicates); another copy of the task would be a second dead letter, re-driven twice.
          const original = d.seq === undefined ? msg : r.msgs.find((m) => m.info.streamSequence === d.seq);
          if (original)
            await deadLetter(
              options.js,
              options.names,
              original,
              'max_deliveries',
              d.reason,
              options.durable,
              task.taskId,
            );
          await reporter.failed(d.mensaje, { willRetry: false, code: 'MAX_DELIVERIES' });
          r.msgs.forEach((m) => quietly(() => m.term()));
          break;
        }
        case 'interrupted':
          nakAll(r);
          await reporter
            .log({
              level: 'WARNING',
              module: 'worker',
              message: `Intento ${reporter.attempt} interrumpido por la detención del worker; la tarea se reanudará sin contar un intento nuevo.`,
            })
            .catch(() => undefined);
          break;
      }
      r.settled = true;
    } catch (err) {
      throw new SettleError(errorMessage(err), { cause: err });
    }
  }

  function decide(err: unknown, attempt: number, seq: number): TaskDecision {
    if (err instanceof SkipTask) return { kind: 'skipped', reason: err.message, detalles: err.detalles };
    if (err instanceof PermanentError)
      return { kind: 'failed', mensaje: err.message, code: err.code, detalles: err.detalles };
    if (err instanceof ValidationError) return { kind: 'failed', mensaje: err.message, code: 'INVALID' };
    // A handler that gave up because the worker is stopping did not fail: the task is handed back.
    if (stopController.signal.aborted) return { kind: 'interrupted' };
    if (attempt < maxAttempts)
      return { kind: 'retry', mensaje: errorMessage(err), code: codeOf(err), delayMs: backoff(attempt) };
    return { kind: 'dead_lettered', mensaje: errorMessage(err), reason: errorMessage(err), seq };
  }

  /**
   * Runs a delivery; with OpenTelemetry on (otel.ts), as a CONSUMER span child of its command's traceparent, whose
   * traceparent the task's events, Logs and sent-on commands then carry. Off: nothing is added to the hot path.
   */
  function traced(r: Running, task: TaskContext): Promise<void> {
    if (!telemetryEnabled()) return process(r, task);
    return inSpan(
      `process ${options.subject}`,
      SpanKind.CONSUMER,
      task.traceparent,
      {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': options.subject,
        'messaging.consumer.group.name': options.durable,
        'lucy.task.id': task.taskId,
        'lucy.task.type': task.taskType,
      },
      (span) => process(r, { ...task, traceparent: span.traceparent }, span),
    );
  }

  async function process(r: Running, task: TaskContext, span?: SpanScope): Promise<void> {
    const msg = r.msgs[0]!;
    const mlog = log.child({ taskId: task.taskId, seq: msg.info.streamSequence });
    const endTimer = consumerDuration.startTimer({ consumer: options.durable });
    const reporterFor = (attempt: number, run: string, at?: string) =>
      createTaskReporter({
        js: options.js,
        names: options.names,
        context: task,
        attempt,
        worker: options.worker,
        run,
        ...(at ? { clock: () => new Date(at) } : {}),
        ...(ioPublish ? { publish: ioPublish } : {}),
      });
    try {
      const giveUp = async (kind: 'undecodable' | 'invalid', reason: string, mensaje: string) => {
        // Deterministic: a redelivery gives up the same way, and the dead letter is de-duplicated.
        await deadLetter(options.js, options.names, msg, kind, reason, options.durable, task.taskId);
        await reporterFor(1, 'dlq').failed(mensaje, { willRetry: false, code: kind.toUpperCase() });
        r.msgs.forEach((m) => quietly(() => m.term()));
        r.settled = true;
        outcome('dead_lettered');
        mlog.warn({ reason }, 'message dead-lettered');
      };
      let message: MessageShape<D>;
      try {
        message = decode(options.schema, msg.data, header(msg.headers, H.contentType));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        await giveUp('undecodable', err.message, `Comando indescifrable: ${err.message}`);
        return;
      }
      const problems = commandProblems(options.schema, message, options.validate);
      if (problems.length > 0) {
        const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
        await giveUp('invalid', text, `Comando inválido: ${text}`);
        return;
      }

      const { outcomes } = await openBuckets();
      const run = randomHex(6);
      // The hot path: a first delivery is nearly always of a task never seen, so the claim is created at once
      // (compare-and-set on "no record") beside the cancellation read: one round trip instead of a read and then a
      // write. A record that exists (a copy of the task, a durable re-created from its position) fails the create,
      // and the read path below decides as before.
      const readCancellation = async (): Promise<RunnerKvEntry | undefined> => {
        if (!options.cancellations) return undefined;
        if (io) return io.kvGet(options.cancellations, task.taskId);
        return (await options.cancellations.get(task.taskId)) ?? undefined;
      };
      let cancelled: Promise<RunnerKvEntry | undefined> | undefined;
      let attempt: number | undefined;
      if (!msg.info.redelivered) {
        const claim: TaskOutcomeRecord = {
          attempt: 1,
          run,
          worker: options.worker,
          state: 'running',
          at: new Date().toISOString(),
        };
        cancelled = readCancellation();
        const [revision, c] = await Promise.all([
          claimFor(outcomes, task.taskId, undefined, claim),
          cancelled,
        ]);
        if (revision !== undefined) {
          r.claim = { record: claim, revision };
          attempt = 1;
          if (c && c.operation === 'PUT') {
            // Claimed, so the skip is recorded like any outcome and a redelivery reports it again.
            const d: TaskDecision = {
              kind: 'skipped',
              reason: `Tarea cancelada: ${c.string() || 'por el personal'}`,
              detalles: { cancelada: true },
            };
            if (await writeClaim(r, { state: d.kind, decision: d }))
              await report(r, reporterFor(1, run), d, msg, task);
            outcome('cancelled');
            return;
          }
        }
      }
      /** The read path: decides from the task's record what this delivery is; the attempt it runs, if any. */
      const readAndClaim = async (): Promise<number | undefined> => {
        const [known, cancelledEntry] = await Promise.all([
          readTaskOutcome(outcomes, task.taskId),
          cancelled ?? readCancellation(),
        ]);
        const prev = known?.record;
        if (prev?.decision && FINAL_DECISIONS.includes(prev.decision.kind)) {
          // Done before (by us or another process): report the recorded outcome again, never run it again.
          await report(r, reporterFor(prev.attempt, prev.run, prev.at), prev.decision, msg, task);
          outcome('rereported');
          mlog.info(
            { decision: prev.decision.kind },
            'task already done; its recorded outcome was reported again',
          );
          return undefined;
        }
        const staleInMs = prev ? ackWaitMs + heartbeatMs - (Date.now() - Date.parse(prev.at)) : 0;
        if (prev?.state === 'running' && prev.worker !== options.worker && staleInMs > 0) {
          // Another process runs it (its heartbeats are fresh): hand this delivery back until its claim would go
          // stale. A live process heartbeats meanwhile (then it is handed back again); a killed one's claim is
          // stale by then and this process takes the task over — after about one ack wait since the kill, not two.
          nakAll(r, Math.min(ackWaitMs, Math.max(100, staleInMs + 50)));
          r.settled = true;
          outcome('running_elsewhere');
          mlog.info({ worker: prev.worker }, 'task running in another process; delivery handed back');
          return undefined;
        }
        if (prev?.decision?.kind === 'retry') {
          // The previous attempt's failure may not have been published (that is why we may be here early).
          await reporterFor(prev.attempt, prev.run, prev.at).failed(prev.decision.mensaje, {
            willRetry: true,
            code: prev.decision.code,
          });
        }
        // A stale `running` record is a run that crashed: it used up its attempt. A hand-back did not.
        const next = !prev ? 1 : prev.state === 'interrupted' ? prev.attempt : prev.attempt + 1;

        if (next > maxAttempts) {
          const d: TaskDecision = {
            kind: 'dead_lettered',
            mensaje: `Se agotaron los ${maxAttempts} intentos de la tarea.`,
            reason: `gave up after ${next - 1} attempts`,
            seq: msg.info.streamSequence,
          };
          const recorded: TaskOutcomeRecord = {
            attempt: prev?.attempt ?? next,
            run,
            worker: options.worker,
            state: d.kind,
            at: new Date().toISOString(),
            decision: d,
          };
          if ((await claimFor(outcomes, task.taskId, known, recorded)) === undefined) {
            nakAll(r, heartbeatMs);
            r.settled = true;
            outcome('running_elsewhere');
            return undefined;
          }
          await report(r, reporterFor(recorded.attempt, run), d, msg, task);
          outcome('dead_lettered');
          mlog.warn('attempts exhausted; message dead-lettered');
          return undefined;
        }

        if (cancelledEntry && cancelledEntry.operation === 'PUT') {
          // Recorded like any outcome (as on a first delivery): a later copy or a redelivery after a lost ack
          // reports this skip again under the same `Nats-Msg-Id`, never a new one.
          const d: TaskDecision = {
            kind: 'skipped',
            reason: `Tarea cancelada: ${cancelledEntry.string() || 'por el personal'}`,
            detalles: { cancelada: true },
          };
          const recorded: TaskOutcomeRecord = {
            attempt: next,
            run,
            worker: options.worker,
            state: d.kind,
            at: new Date().toISOString(),
            decision: d,
          };
          if ((await claimFor(outcomes, task.taskId, known, recorded)) === undefined) {
            nakAll(r, heartbeatMs);
            r.settled = true;
            outcome('running_elsewhere');
            return undefined;
          }
          await report(r, reporterFor(next, run), d, msg, task);
          outcome('cancelled');
          return undefined;
        }

        const claim: TaskOutcomeRecord = {
          attempt: next,
          run,
          worker: options.worker,
          state: 'running',
          at: new Date().toISOString(),
        };
        const revision = await claimFor(outcomes, task.taskId, known, claim);
        if (revision === undefined) {
          // Another process claimed it between our read and our write.
          nakAll(r, heartbeatMs);
          r.settled = true;
          outcome('running_elsewhere');
          return undefined;
        }
        r.claim = { record: claim, revision };
        return next;
      };
      attempt ??= await readAndClaim();
      if (attempt === undefined) return;
      if (stopController.signal.aborted) {
        // Stopping (and perhaps already handed back by stop() while this delivery waited on NATS): the handler does
        // not start now; the task goes back without using up its attempt.
        if (!r.settled) nakAll(r);
        r.settled = true;
        await writeClaim(r, { state: 'interrupted', decision: { kind: 'interrupted' } }).catch(() => false);
        mlog.info('worker stopping; a claimed task was handed back before it started');
        return;
      }
      const reporter = reporterFor(attempt, run);
      const rlog = mlog.child({ attempt, run });
      span?.set({ 'lucy.task.attempt': attempt });

      try {
        await reporter.started(options.alumnoIdOf?.(message));
      } catch (err) {
        // Nothing ran: the attempt is handed back rather than used up.
        await writeClaim(r, { state: 'interrupted', decision: { kind: 'interrupted' } }).catch(() => false);
        throw err;
      }
      let decision: TaskDecision;
      const heartbeat = setInterval(() => {
        // Handed back by stop(): its deliveries went back (another replica may hold them now) and so did the task.
        if (r.settled) return;
        workingAll(r);
        reporter.heartbeat().catch((err: unknown) => rlog.debug({ err }, 'heartbeat publish failed'));
        writeClaim(r, {}).then(
          (ok) => {
            if (!ok && !r.settled) rlog.warn('another process took this task over');
          },
          (err: unknown) => rlog.debug({ err: errorMessage(err) }, 'could not refresh the claim'),
        );
      }, heartbeatMs);
      heartbeat.unref();
      try {
        // Commands the handler sends on continue the task's trace (tracing.ts).
        const result = await withTraceparent(task.traceparent, () =>
          options.handle({
            message,
            task,
            attempt,
            reporter,
            logger: rlog,
            signal: stopController.signal,
            working: () => workingAll(r),
          }),
        );
        decision = {
          kind: 'succeeded',
          cantidadEntidades: result?.cantidadEntidades ?? 1,
          detalles: result?.detalles,
        };
      } catch (err) {
        decision = decide(err, attempt, msg.info.streamSequence);
        span?.fail(err);
        if (decision.kind === 'retry')
          rlog.warn({ err: errorMessage(err), retryInMs: decision.delayMs }, 'task failed, will retry');
        else if (decision.kind === 'failed') rlog.info({ err: errorMessage(err) }, 'task failed permanently');
        else if (decision.kind === 'dead_lettered')
          rlog.warn({ err: errorMessage(err) }, 'last attempt failed');
      } finally {
        clearInterval(heartbeat);
      }
      if (r.settled) return; // handed back by stop() after the drain timeout
      // The outcome is recorded before it is reported: if reporting fails, the next delivery reports it again.
      const recorded = await writeClaim(r, { state: decision.kind, decision }).catch((err: unknown) => {
        rlog.error(
          { err: errorMessage(err) },
          'could not record the outcome; a redelivery will run the task again',
        );
        return true;
      });
      if (!recorded) {
        // Another process took over (we were cut off longer than the ack wait): it owns the task's outcome.
        outcome('taken_over');
        rlog.warn('task taken over by another process; this run is not reported');
        return;
      }
      await report(r, reporter, decision, msg, task);
      outcome(decision.kind === 'retry' ? 'retried' : decision.kind);
    } catch (err) {
      // Reading or recording the outcome, or publishing or acking it, failed (NATS unavailable): the message is
      // left to redelivery, which reports the recorded outcome (or runs the task, idempotently, if none).
      outcome('settle_failed');
      checkBuckets = true;
      mlog.error({ err: errorMessage(err) }, 'could not settle message; it will be redelivered');
      if (!r.settled) nakAll(r, Math.min(backoff(1), ackWaitMs));
      r.settled = true;
    } finally {
      endTimer();
      schedulePosition();
    }
  }

  async function dispatch(msg: JsMsg): Promise<void> {
    const task = taskContextOf(msg, options.taskType);
    const same = active.get(task.taskId);
    if (same && !same.settled) {
      // A redelivery (or a second copy) of a task this process is running: keep it alive, settle it with the run.
      same.msgs.push(msg);
      quietly(() => msg.working());
      outcome('joined_running');
      log.info({ taskId: task.taskId }, 'redelivery of a running task; it is not run again');
      return;
    }
    const r: Running = { taskId: task.taskId, msgs: [msg], settled: false };
    active.set(task.taskId, r);
    const p = traced(r, task).finally(() => {
      if (active.get(task.taskId) === r) active.delete(task.taskId);
      running.delete(p);
      wakeSlotWaiters();
    });
    running.add(p);
    await p;
  }

  /** Resolves when a slot frees up (a handler ends) or the worker stops. */
  const slotFreed = () =>
    new Promise<void>((resolve) => {
      slotWaiters.add(resolve);
    });
  const wakeSlotWaiters = () => {
    const waiters = [...slotWaiters];
    slotWaiters.clear();
    waiters.forEach((w) => w());
  };

  /**
   * The pull loop: asks for as many messages as there are free slots, in one pull request, so no message waits
   * unattended for a slot while its ack deadline runs out (running + asked for ≤ concurrency). One pull for a
   * batch instead of one per message (each pull is a subscription, a request and an unsubscription): the
   * largest saving of the pipeline benchmark (docs/benchmarks.md). It pulls again once a quarter of the slots
   * are free, or one slot when idle.
   */
  async function pullLoop(): Promise<void> {
    let failures = 0;
    const threshold = Math.max(1, Math.floor(concurrency / 4));
    while (!stopController.signal.aborted) {
      const free = concurrency - running.size;
      if (free < (running.size === 0 ? 1 : threshold)) {
        await slotFreed();
        continue;
      }
      try {
        const c = await currentConsumer();
        const batch = await c.fetch({ max_messages: free, expires: PULL_EXPIRES_MS });
        pulling = batch;
        for await (const msg of batch) {
          failures = 0;
          if (stopController.signal.aborted) {
            quietly(() => msg.nak());
            continue;
          }
          void dispatch(msg);
        }
        failures = 0;
      } catch (err) {
        if (stopController.signal.aborted) break;
        consumer = undefined;
        failures++;
        log.warn({ err: errorMessage(err), failures }, 'pull failed; retrying');
        await sleep(Math.min(250 * 2 ** failures, 10_000));
      } finally {
        pulling = undefined;
      }
    }
  }

  async function handBack(r: Running): Promise<void> {
    if (r.settled) return;
    r.settled = true;
    nakAll(r);
    await writeClaim(r, { state: 'interrupted', decision: { kind: 'interrupted' } }).catch(() => false);
  }

  return {
    async start() {
      await currentConsumer();
      loops = pullLoop();
      log.info({ subject: options.subject, concurrency }, 'worker started');
    },
    async stop() {
      stopController.abort();
      sleepers.forEach((wake) => wake());
      wakeSlotWaiters();
      // The open pull ends now; a message it still brings is nak'ed at once.
      pulling?.stop();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((r) => {
        timer = setTimeout(r, options.drainTimeoutMs ?? 30_000);
      });
      await Promise.race([Promise.allSettled([...running]), timeout]);
      clearTimeout(timer);
      // Handlers still running past the drain timeout: their tasks go back to JetStream, no attempt used.
      await Promise.all([...active.values()].map((r) => handBack(r)));
      void loops;
      if (positionTimer) {
        clearTimeout(positionTimer);
        positionTimer = undefined;
        if (buckets)
          await recordConsumerPosition(options.jsm, buckets.positions, stream, options.durable).catch(
            () => undefined,
          );
      }
      log.info('worker stopped');
    },
    inFlight: () => running.size,
  };
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
