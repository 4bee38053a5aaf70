import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core';
import { createBatchPublisher } from './batch-publisher.js';
import { encode } from './codec.js';
import {
  CONTENT_TYPE,
  H,
  taskHeaders,
  type ContentType,
  type TaskContext,
  type TriggerName,
} from './headers.js';
import type { Names } from './names.js';
import { uuidv7 } from './task-id.js';
import { startPublishSpan, telemetryEnabled } from './otel.js';
import { currentTraceparent } from './tracing.js';

/** How many ids bound to the subject a command tries when its own is taken on another subject (publisher.ts). */
const MAX_ID_ALTERNATIVES = 4;

/** The publish spans (otel.ts) of prepared commands, ended when their publish is acknowledged or fails. */
const publishSpans = new WeakMap<object, (err?: unknown) => void>();
const endPublish = (headers: object, err?: unknown) => {
  publishSpans.get(headers)?.(err);
  publishSpans.delete(headers);
};

/** Options of a command publication. */
export interface PublishCommandOptions {
  /** Registered task name (the `Lucy-Task-Type` header). */
  taskType: string;
  /** Staff user or system asking. */
  requestedBy: string;
  trigger: TriggerName;
  /** Task id; a new UUIDv7 when absent. */
  taskId?: string;
  /** Idempotency key (`Nats-Msg-Id`); defaults to the task id. */
  msgId?: string;
  /** Task this one retries. */
  parentTaskId?: string;
  /** Trace context to continue; default the current one (an RPC call's, a task's), else a new trace. */
  traceparent?: string;
  /** Default protobuf. */
  contentType?: ContentType;
}

/** Result of a publication. */
export interface Published {
  readonly taskId: string;
  readonly seq: number;
  /**
   * True when JetStream dropped it as a duplicate of the same idempotency key; `taskId` is then the task id of the
   * command stored first (when it can be read back), not the one this publication minted.
   */
  readonly duplicate: boolean;
}

/**
 * A command made ready ahead of time — subject prefixed, headers built (`Nats-Msg-Id` included), payload encoded —
 * so that publishing it later is only a write to the socket (see {@link CommandPublisher.publishPrepared}).
 */
export interface PreparedCommand {
  /** Full (prefixed) subject. */
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  readonly taskId: string;
}

/** Options of {@link CommandPublisher.publishPrepared}. */
export interface PublishPreparedOptions {
  /** How long to wait for all the stream's acknowledgements, ms; default 10 000. */
  timeoutMs?: number;
}

/** Publishes commands with the headers of design.md. */
export interface CommandPublisher {
  /**
   * Publishes a command on a canonical subject (`lucy.cmd.<service>.<command>`) and waits for the stream's
   * acknowledgement, so a returned command is durable.
   */
  publish<D extends DescMessage>(
    subject: string,
    schema: D,
    message: MessageShape<D> | MessageInitShape<D>,
    options: PublishCommandOptions,
  ): Promise<Published>;
  /** Republishes raw bytes (a retry or a re-drive) on a canonical subject with new task headers. */
  publishRaw(
    subject: string,
    data: Uint8Array,
    contentType: ContentType,
    options: PublishCommandOptions,
  ): Promise<Published>;
  /** Builds a command's headers and subject now, to publish it later with {@link publishPrepared}. */
  prepare(
    subject: string,
    data: Uint8Array,
    contentType: ContentType,
    options: PublishCommandOptions,
  ): PreparedCommand;
  /**
   * Publishes many prepared commands at once — all written to the connection in one synchronous pass, their
   * acknowledgements collected on one inbox subscription (no request, timer or promise per message) — and
   * resolves, in order, each one's {@link Published} or the Error that kept it from being stored (stream error,
   * no stream for the subject, no acknowledgement within the timeout: the caller retries with the same
   * `Nats-Msg-Id`, which JetStream de-duplicates). For bursts: the scheduler fires thousands of slots due at the
   * same instant this way.
   */
  publishPrepared(
    commands: readonly PreparedCommand[],
    options?: PublishPreparedOptions,
  ): Promise<Array<Published | Error>>;
}

/**
 * Creates a {@link CommandPublisher}. `nc` (the connection `js` was made from) enables {@link
 * CommandPublisher.publishPrepared}; without it, prepared commands are published one JetStream request each.
 */
export function createCommandPublisher(
  js: JetStreamClient,
  names: Names,
  nc?: NatsConnection,
): CommandPublisher {
  const prepare: CommandPublisher['prepare'] = (subject, data, contentType, options) => {
    const taskId = options.taskId ?? uuidv7();
    const span = startPublishSpan(names.full(subject), options.traceparent ?? currentTraceparent());
    const ctx: TaskContext = {
      taskId,
      taskType: options.taskType,
      requestedBy: options.requestedBy,
      trigger: options.trigger,
      // Inside an RPC call or a task, the command continues its trace (tracing.ts) unless told otherwise.
      traceparent: span.traceparent,
      parentTaskId: options.parentTaskId,
    };
    const headers = taskHeaders(ctx, contentType);
    if (telemetryEnabled()) publishSpans.set(headers, (err) => span.end(err));
    headers.set(H.msgId, options.msgId ?? taskId);
    return { subject: names.full(subject), data, headers, taskId };
  };
  /**
   * JetStream de-duplicates by `Nats-Msg-Id` across the whole stream, not per subject, and our ids are guessable
   * (`alumno-deleted:<id>`, `<periodic>@<slot>`): a system allowed to publish one command could store a message under
   * the id of another and have the real one dropped as a duplicate (a deletion never run, a slot never fired). A
   * duplicate ack is therefore believed only when the message stored under that id is on the same subject; otherwise
   * the command goes out again under an id bound to its subject (then `#2`… up to {@link MAX_ID_ALTERNATIVES}), and
   * is refused with an error when every one is taken.
   */
  // Made on the first duplicate only (one API request), then kept: a burst of duplicates after a failover reuses it.
  let jsmOnce: ReturnType<typeof js.jetstreamManager> | undefined;
  const confirmDuplicate = async (
    command: PreparedCommand,
    ack: { stream: string; seq: number; duplicate: boolean },
    base = command.headers.get(H.msgId),
    tried = 0,
  ): Promise<Published> => {
    const published = { taskId: command.taskId, seq: ack.seq, duplicate: ack.duplicate };
    if (!ack.duplicate || !ack.stream) return published;
    jsmOnce ??= js.jetstreamManager().catch((err: unknown) => {
      jsmOnce = undefined; // a failed request is not kept: the next duplicate asks again
      throw err;
    });
    const jsm = await jsmOnce;
    const stored = await jsm.streams.getMessage(ack.stream, { seq: ack.seq }).catch(() => null);
    // On the same subject: a genuine duplicate. Unverifiable on the original id (deleted, purged, unreadable): the
    // alternatives below are tried, each de-duplicated in turn, so a repeat of this command still lands once.
    // A genuine duplicate answers with the task id of the command JetStream kept (a retry that minted a new id
    // for the same Nats-Msg-Id learns which Tarea it is).
    if (stored?.subject === command.subject)
      return { ...published, taskId: stored.header.get(H.taskId) || command.taskId };
    if (!stored && tried > 0) return published;
    if (tried >= MAX_ID_ALTERNATIVES)
      throw new Error(
        `Nats-Msg-Id ${base} and its ${MAX_ID_ALTERNATIVES} alternatives are taken by messages on other subjects: ` +
          `${command.subject} not published`,
      );
    // Deterministic alternatives, so every publisher of the same command (replicas, retries) lands on the same id.
    const next = tried === 0 ? `${base}@${command.subject}` : `${base}@${command.subject}#${tried + 1}`;
    command.headers.set(H.msgId, next);
    const again = await js.publish(command.subject, command.data, { headers: command.headers });
    return confirmDuplicate(command, again, base, tried + 1);
  };
  const publishRaw: CommandPublisher['publishRaw'] = async (subject, data, contentType, options) => {
    const command = prepare(subject, data, contentType, options);
    const ack = await js
      .publish(command.subject, command.data, { headers: command.headers })
      .then((a) => confirmDuplicate(command, a))
      .catch((err: unknown) => {
        endPublish(command.headers, err);
        throw err;
      });
    endPublish(command.headers);
    return ack;
  };
  const batch = nc ? createBatchPublisher(nc) : undefined;
  return {
    publishRaw,
    prepare,
    async publish(subject, schema, message, options) {
      const contentType = options.contentType ?? CONTENT_TYPE.protobuf;
      return publishRaw(subject, encode(schema, message, contentType), contentType, options);
    },
    async publishPrepared(commands, options = {}) {
      if (batch) {
        const acks = await batch.publishAll(commands, options.timeoutMs);
        acks.forEach((ack, i) => endPublish(commands[i]!.headers, ack instanceof Error ? ack : undefined));
        return Promise.all(
          acks.map((ack, i) =>
            ack instanceof Error
              ? Promise.resolve(ack)
              : confirmDuplicate(commands[i]!, ack).catch((err: unknown) =>
                  err instanceof Error ? err : new Error(String(err)),
                ),
          ),
        );
      }
      return Promise.all(
        commands.map((c) =>
          js
            .publish(c.subject, c.data, { headers: c.headers })
            .then((ack) => confirmDuplicate(c, ack))
            .then(
              (published): Published => {
                endPublish(c.headers);
                return published;
              },
              (err: unknown) => {
                endPublish(c.headers, err);
                return err instanceof Error ? err : new Error(String(err));
              },
            ),
        ),
      );
    },
  };
}

export { H };
