import type { DescMessage, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import type { JetStreamClient } from '@nats-io/jetstream';
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
}

/** Creates a {@link CommandPublisher}. */
export function createCommandPublisher(js: JetStreamClient, names: Names): CommandPublisher {
  const publishRaw: CommandPublisher['publishRaw'] = async (subject, data, contentType, options) => {
    const taskId = options.taskId ?? uuidv7();
    const ctx: TaskContext = {
      taskId,
      taskType: options.taskType,
      requestedBy: options.requestedBy,
      trigger: options.trigger,
      traceparent: options.traceparent ? childTraceparent(options.traceparent) : newTraceparent(),
      parentTaskId: options.parentTaskId,
    };
    const ack = await js.publish(names.full(subject), data, {
      headers: taskHeaders(ctx, contentType),
      msgID: options.msgId ?? taskId,
    });
    return { taskId, seq: ack.seq, duplicate: ack.duplicate };
  };
  return {
    publishRaw,
    async publish(subject, schema, message, options) {
      const contentType = options.contentType ?? CONTENT_TYPE.protobuf;
      return publishRaw(subject, encode(schema, message, contentType), contentType, options);
    },
  };
}

export { H };
