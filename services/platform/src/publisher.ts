import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { encode } from './codec.js';
import {
  CONTENT_TYPE,
  childTraceparent,
  H,
  newTraceparent,
  taskHeaders,
  type ContentType,
  type TaskContext,
  type TriggerName,
} from './headers.js';
import type { Names } from './names.js';
import { uuidv7 } from './task-id.js';

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
  /** Trace context to continue; a new trace when absent. */
  traceparent?: string;
  /** Default protobuf. */
  contentType?: ContentType;
}

/** Result of a publication. */
export interface Published {
  readonly taskId: string;
  readonly seq: number;
  /** True when JetStream dropped it as a duplicate of the same idempotency key. */
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
    const ctx: TaskContext = {
      taskId,
      taskType: options.taskType,
      requestedBy: options.requestedBy,
      trigger: options.trigger,
      traceparent: options.traceparent ? childTraceparent(options.traceparent) : newTraceparent(),
      parentTaskId: options.parentTaskId,
    };
    const headers = taskHeaders(ctx, contentType);
    headers.set(H.msgId, options.msgId ?? taskId);
    return { subject: names.full(subject), data, headers, taskId };
  };
  const publishRaw: CommandPublisher['publishRaw'] = async (subject, data, contentType, options) => {
    const command = prepare(subject, data, contentType, options);
    const ack = await js.publish(command.subject, command.data, { headers: command.headers });
    return { taskId: command.taskId, seq: ack.seq, duplicate: ack.duplicate };
  };
  const acks = nc ? createAckCollector(nc) : undefined;
  return {
    publishRaw,
    prepare,
    async publish(subject, schema, message, options) {
      const contentType = options.contentType ?? CONTENT_TYPE.protobuf;
      return publishRaw(subject, encode(schema, message, contentType), contentType, options);
    },
    async publishPrepared(commands, options = {}) {
      if (acks) return acks.publishAll(commands, options.timeoutMs ?? 10_000);
      return Promise.all(
        commands.map((c) =>
          js.publish(c.subject, c.data, { headers: c.headers }).then(
            (ack): Published => ({ taskId: c.taskId, seq: ack.seq, duplicate: ack.duplicate }),
            (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
          ),
        ),
      );
    },
  };
}

/** JetStream's answer to a publication (a PubAck or an API error). */
interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

/**
 * Publishes with a reply subject `<inbox>.<n>` and routes each acknowledgement back by its `n`: one wildcard
 * subscription for the connection's lifetime (re-subscribed by the client after a reconnect).
 */
function createAckCollector(nc: NatsConnection) {
  let inbox = '';
  let subscription: Subscription | undefined;
  let next = 0;
  const pending = new Map<number, (result: Msg | Error) => void>();

  const subscribe = () => {
    if (subscription && !subscription.isClosed()) return;
    inbox = createInbox();
    subscription = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          // The subscription is gone (permissions, connection closed): every waiting publication fails.
          for (const [id, settle] of pending) {
            pending.delete(id);
            settle(err);
          }
          return;
        }
        const id = Number(msg.subject.slice(inbox.length + 1));
        const settle = pending.get(id);
        if (!settle) return; // Timed out already.
        pending.delete(id);
        settle(msg);
      },
    });
  };

  return {
    publishAll(commands: readonly PreparedCommand[], timeoutMs: number): Promise<Array<Published | Error>> {
      if (commands.length === 0) return Promise.resolve([]);
      try {
        subscribe();
      } catch (err) {
        // The connection is closed or draining: nothing can be published now; every command reports it.
        const error = err instanceof Error ? err : new Error(String(err));
        return Promise.resolve(commands.map(() => error));
      }
      const results = new Array<Published | Error>(commands.length);
      const ids: number[] = [];
      let open = commands.length;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          for (const [index, id] of ids.entries()) {
            if (!pending.delete(id)) continue;
            results[index] = new Error(`no acknowledgement from JetStream within ${timeoutMs} ms`);
          }
          resolve(results);
        }, timeoutMs);
        const settled = () => {
          if (--open > 0) return;
          clearTimeout(timer);
          resolve(results);
        };
        for (const [index, command] of commands.entries()) {
          const id = next++;
          ids.push(id);
          pending.set(id, (answer) => {
            results[index] = answer instanceof Error ? answer : readAck(command, answer);
            settled();
          });
          try {
            nc.publish(command.subject, command.data, { headers: command.headers, reply: `${inbox}.${id}` });
          } catch (err) {
            pending.delete(id);
            results[index] = err instanceof Error ? err : new Error(String(err));
            settled();
          }
        }
      });
    },
  };
}

function readAck(command: PreparedCommand, msg: Msg): Published | Error {
  if (msg.headers?.code === 503)
    return new Error(`no JetStream stream stores ${command.subject} (no responders)`);
  let body: PubAckBody;
  try {
    body = msg.json<PubAckBody>();
  } catch {
    return new Error(`unreadable JetStream acknowledgement for ${command.subject}`);
  }
  if (body.error || typeof body.seq !== 'number')
    return new Error(
      `JetStream refused ${command.subject}: ${body.error?.description ?? 'no sequence in the acknowledgement'}` +
        (body.error?.err_code ? ` (${body.error.err_code})` : ''),
    );
  return { taskId: command.taskId, seq: body.seq, duplicate: body.duplicate === true };
}

export { H };
