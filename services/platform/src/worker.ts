import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import type { KV } from '@nats-io/kv';
import { decode } from './codec.js';
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
import { consumerDuration, consumerMessages } from './metrics.js';
import type { Names } from './names.js';
import { createTaskReporter, type TaskReporter } from './reporter.js';
import { taskIdFromDelivery } from './task-id.js';

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
  /** Attempt number (JetStream delivery count), from 1. */
  readonly attempt: number;
  readonly reporter: TaskReporter;
  readonly logger: Logger;
  /** Aborted when the worker is stopping; long handlers should stop early and throw. */
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
  /** Worker identity for events, e.g. `ingest-sial/host-123`. */
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
}

/** A running consumer. */
export interface CommandWorker {
  /** Creates or updates the durable consumer and starts the consume loop. */
  start(): Promise<void>;
  /** Stops fetching, waits for in-flight handlers (bounded), and returns. */
  stop(): Promise<void>;
  /** Handlers running now. */
  inFlight(): number;
}

const defaultBackoff = (attempt: number) => Math.min(1000 * 4 ** Math.max(0, attempt - 1), 5 * 60_000);

/** Creates or updates a durable pull consumer on a stream with one filter subject. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
  filterSubject: string,
  options: { ackWaitMs: number; maxAckPending: number },
): Promise<void> {
  const config = {
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
      ack_wait: config.ack_wait,
      max_ack_pending: config.max_ack_pending,
      max_deliver: config.max_deliver,
      filter_subject: filterSubject,
    });
  } catch (err) {
    if (!/not found|10014/i.test(errorMessage(err))) throw err;
    await jsm.consumers.add(stream, config);
  }
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

/**
 * The consumer runner of every worker: bounded concurrency; ack only after the handler's work and the
 * lifecycle events are durable; transient failures nak'ed with exponential backoff; `working()` heartbeats
 * for long work; undecodable, invalid or exhausted messages dead-lettered to LUCY_DLQ then terminated; a
 * consume loop that is re-created after server restarts, deleted consumers or missed heartbeats.
 */
export function createCommandWorker<D extends DescMessage>(options: CommandWorkerOptions<D>): CommandWorker {
  const concurrency = options.concurrency ?? 4;
  const maxAttempts = options.maxAttempts ?? 5;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const backoff = options.backoffMs ?? defaultBackoff;
  const stream = options.names.streams.cmd;
  const log = options.logger.child({ consumer: options.durable });
  const stopController = new AbortController();
  const running = new Set<Promise<void>>();
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  const slotWaiters: Array<() => void> = [];

  const acquire = async () => {
    while (running.size >= concurrency) await new Promise<void>((r) => slotWaiters.push(r));
  };
  const release = () => slotWaiters.shift()?.();

  async function process(msg: JsMsg): Promise<void> {
    const task = taskContextOf(msg, options.taskType);
    const attempt = msg.info.deliveryCount;
    const reporter = createTaskReporter({
      js: options.js,
      names: options.names,
      context: task,
      attempt,
      worker: options.worker,
    });
    const mlog = log.child({ taskId: task.taskId, attempt, seq: msg.info.streamSequence });
    const endTimer = consumerDuration.startTimer({ consumer: options.durable });
    const outcome = (o: string) => consumerMessages.inc({ consumer: options.durable, outcome: o });
    const giveUp = async (
      kind: 'undecodable' | 'invalid' | 'max_deliveries',
      reason: string,
      mensaje: string,
    ) => {
      await deadLetter(options.js, options.names, msg, kind, reason, options.durable);
      await reporter.failed(mensaje, { willRetry: false, code: kind.toUpperCase() });
      msg.term();
      outcome('dead_lettered');
      mlog.warn({ reason }, 'message dead-lettered');
    };
    try {
      if (attempt > maxAttempts) {
        await giveUp(
          'max_deliveries',
          `gave up after ${attempt - 1} deliveries`,
          `Se agotaron los ${maxAttempts} intentos de la tarea.`,
        );
        return;
      }
      let message: MessageShape<D>;
      try {
        message = decode(options.schema, msg.data, header(msg.headers, H.contentType));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        await giveUp('undecodable', err.message, `Comando indescifrable: ${err.message}`);
        return;
      }
      const problems = options.validate?.(message) ?? [];
      if (problems.length > 0) {
        const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
        await giveUp('invalid', text, `Comando inválido: ${text}`);
        return;
      }
      if (options.cancellations) {
        const cancelled = await options.cancellations.get(task.taskId);
        if (cancelled && cancelled.operation === 'PUT') {
          await reporter.skipped(`Tarea cancelada: ${cancelled.string() || 'por el personal'}`, {
            cancelada: true,
          });
          await msg.ackAck();
          outcome('cancelled');
          return;
        }
      }
      await reporter.started(options.alumnoIdOf?.(message));
      const heartbeat = setInterval(
        () => {
          msg.working();
          reporter.heartbeat().catch((err: unknown) => mlog.debug({ err }, 'heartbeat publish failed'));
        },
        Math.max(1000, Math.floor(ackWaitMs / 3)),
      );
      heartbeat.unref();
      try {
        const result = await options.handle({
          message,
          task,
          attempt,
          reporter,
          logger: mlog,
          signal: stopController.signal,
          working: () => msg.working(),
        });
        clearInterval(heartbeat);
        await reporter.succeeded(result?.cantidadEntidades ?? 1, result?.detalles);
        await msg.ackAck();
        outcome('succeeded');
      } catch (err) {
        clearInterval(heartbeat);
        if (err instanceof SkipTask) {
          await reporter.skipped(err.message, err.detalles);
          await msg.ackAck();
          outcome('skipped');
        } else if (err instanceof PermanentError || err instanceof ValidationError) {
          await reporter.failed(err.message, {
            willRetry: false,
            code: err instanceof PermanentError ? err.code : 'INVALID',
            ...(err instanceof PermanentError && err.detalles ? { detalles: err.detalles } : {}),
          });
          await msg.ackAck();
          outcome('failed');
          mlog.info({ err: errorMessage(err) }, 'task failed permanently');
        } else if (attempt < maxAttempts) {
          const delay = backoff(attempt);
          await reporter.failed(errorMessage(err), { willRetry: true, code: codeOf(err) });
          msg.nak(delay);
          outcome('retried');
          mlog.warn({ err: errorMessage(err), retryInMs: delay }, 'task failed, will retry');
        } else {
          await giveUp('max_deliveries', errorMessage(err), errorMessage(err));
        }
      }
    } catch (err) {
      // Events could not be published (NATS unavailable): leave the message unacknowledged so JetStream
      // redelivers it after the ack deadline; handlers are idempotent.
      mlog.error({ err: errorMessage(err) }, 'could not settle message; it will be redelivered');
      try {
        msg.nak(backoff(attempt));
      } catch {
        // Connection closed: redelivery happens after ack_wait.
      }
    } finally {
      endTimer();
    }
  }

  async function consumeLoop(): Promise<void> {
    let failures = 0;
    while (!stopController.signal.aborted) {
      try {
        await ensureConsumer(options.jsm, stream, options.durable, options.names.full(options.subject), {
          ackWaitMs,
          maxAckPending: Math.max(concurrency * 4, 16),
        });
        const consumer = await options.js.consumers.get(stream, options.durable);
        messages = await consumer.consume({ max_messages: concurrency, expires: 30_000 });
        failures = 0;
        const current = messages;
        void (async () => {
          for await (const s of current.status()) {
            if (s.type === 'heartbeats_missed' && s.count >= 3) {
              log.warn('missed heartbeats; re-creating the consume loop');
              current.stop();
            } else if (
              s.type === 'consumer_deleted' ||
              s.type === 'consumer_not_found' ||
              s.type === 'stream_not_found'
            ) {
              log.warn({ status: s.type }, 'consumer gone; re-creating it');
              current.stop();
            }
          }
        })().catch(() => undefined);
        for await (const msg of current) {
          await acquire();
          if (stopController.signal.aborted) {
            msg.nak();
            break;
          }
          const p = process(msg).finally(() => {
            running.delete(p);
            release();
          });
          running.add(p);
        }
      } catch (err) {
        if (stopController.signal.aborted) break;
        failures++;
        log.warn({ err: errorMessage(err), failures }, 'consume loop failed; retrying');
      }
      if (!stopController.signal.aborted) {
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** failures, 10_000)));
      }
    }
  }

  return {
    async start() {
      await ensureConsumer(options.jsm, stream, options.durable, options.names.full(options.subject), {
        ackWaitMs,
        maxAckPending: Math.max(concurrency * 4, 16),
      });
      loop = consumeLoop();
      log.info({ subject: options.subject, concurrency }, 'worker started');
    },
    async stop() {
      stopController.abort();
      messages?.stop();
      slotWaiters.splice(0).forEach((r) => r());
      const timeout = new Promise((r) => setTimeout(r, options.drainTimeoutMs ?? 30_000).unref());
      await Promise.race([Promise.allSettled([...running]), timeout]);
      await Promise.race([loop, timeout]);
      log.info('worker stopped');
    },
    inFlight: () => running.size,
  };
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
