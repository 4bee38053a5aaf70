import { create, type DescMessage, type JsonObject, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';
import {
  LogEventSchema,
  LogLevel,
  TaskFailedSchema,
  TaskProgressSchema,
  TaskSkippedSchema,
  TaskStartedSchema,
  TaskSucceededSchema,
} from '@lucy/proto';
import { encode } from './codec.js';
import { CONTENT_TYPE, H, taskHeaders, type TaskContext } from './headers.js';
import { startPublishSpan } from './otel.js';
import type { Names } from './names.js';
import { redactSecrets } from './secrets.js';
import { uuidv7 } from './task-id.js';

/** Log levels as staff read them (the Log table's `tipo`). */
export type LogLevelName = 'DEBUG' | 'INFO' | 'SUCCESS' | 'WARNING' | 'ERROR';

const LEVELS: Record<LogLevelName, LogLevel> = {
  DEBUG: LogLevel.DEBUG,
  INFO: LogLevel.INFO,
  SUCCESS: LogLevel.SUCCESS,
  WARNING: LogLevel.WARNING,
  ERROR: LogLevel.ERROR,
};

/** A log line for the Log table. */
export interface LogInput {
  level: LogLevelName;
  /** Emitting module, e.g. `ingest_sial`. */
  module: string;
  /** Message for staff, in Spanish. */
  message: string;
  detalles?: Record<string, unknown>;
  alumnoId?: string;
  usuario?: string;
}

/**
 * Publishes the lifecycle and log events of one task attempt on LUCY_EVT, with the headers of the command that
 * caused it. Every publish waits for the stream acknowledgement (events are durable before the worker acks).
 * `detalles` are stripped of secret-named keys before they leave the process.
 */
export interface TaskReporter {
  readonly context: TaskContext;
  readonly attempt: number;
  started(alumnoId?: string): Promise<void>;
  progress(done: number, total?: number, message?: string): Promise<void>;
  heartbeat(): Promise<void>;
  succeeded(cantidadEntidades: number, detalles?: Record<string, unknown>): Promise<void>;
  failed(
    mensajeError: string,
    options: {
      willRetry: boolean;
      code?: string;
      detalles?: Record<string, unknown>;
      /** With `willRetry`: the wait before the next attempt, ms. */
      retryInMs?: number;
    },
  ): Promise<void>;
  skipped(reason: string, detalles?: Record<string, unknown>): Promise<void>;
  log(entry: LogInput): Promise<void>;
}

/** Options of {@link createTaskReporter}. */
export interface TaskReporterOptions {
  js: JetStreamClient;
  names: Names;
  context: TaskContext;
  attempt: number;
  /** Worker identity (service/instance). */
  worker: string;
  /** Injected clock; default `() => new Date()`. */
  clock?: () => Date;
  /**
   * Identity of this run of the attempt (the consumer runner draws one per execution). When given it is part of
   * every lifecycle event's `Nats-Msg-Id`, so a real second run of the same attempt is stored (and seen by the
   * tracker) while a repeated publish of the same run is de-duplicated by JetStream.
   */
  run?: string;
  /**
   * Publishes an event and resolves once the stream stored it; default `js.publish`. The consumer runner passes
   * its batched I/O (runner-io.ts): the same acked publish at a fraction of the CPU.
   */
  publish?: (subject: string, data: Uint8Array, headers: MsgHdrs) => Promise<unknown>;
}

/** Creates a {@link TaskReporter}. */
export function createTaskReporter(options: TaskReporterOptions): TaskReporter {
  const { js, names, context, attempt, worker } = options;
  const idOf = (event: string) =>
    options.run
      ? `${context.taskId}:${attempt}:${options.run}:${event}`
      : `${context.taskId}:${attempt}:${event}`;
  const clock = options.clock ?? (() => new Date());
  const base = () => ({
    taskId: context.taskId,
    taskName: context.taskType,
    occurredAt: timestampFromDate(clock()),
    attempt,
  });
  const send = async <D extends DescMessage>(
    event: string,
    schema: D,
    init: MessageInitShape<D>,
    msgId?: string,
  ) => {
    const subject = names.evt('task', event);
    const span = startPublishSpan(subject, context.traceparent);
    const ctx = { ...context, traceparent: span.traceparent };
    const data = encode(schema, create(schema, init));
    const headers = taskHeaders(ctx, CONTENT_TYPE.protobuf);
    if (msgId) headers.set(H.msgId, msgId);
    await (
      options.publish ? options.publish(subject, data, headers) : js.publish(subject, data, { headers })
    ).then(
      () => span.end(),
      (err: unknown) => {
        span.end(err);
        throw err;
      },
    );
  };
  const clean = (d?: Record<string, unknown>) =>
    d ? redactSecrets<JsonObject>(JSON.parse(JSON.stringify(d)) as JsonObject) : undefined;
  return {
    context,
    attempt,
    started: (alumnoId) =>
      send('started', TaskStartedSchema, { ...base(), worker, alumnoId: alumnoId ?? '' }, idOf('started')),
    progress: (done, total, message) =>
      send('progress', TaskProgressSchema, {
        ...base(),
        heartbeat: false,
        done: BigInt(Math.trunc(done)),
        total: BigInt(Math.trunc(total ?? 0)),
        message: message ?? '',
      }),
    heartbeat: () => send('progress', TaskProgressSchema, { ...base(), heartbeat: true }),
    succeeded: (cantidad, detalles) =>
      send(
        'succeeded',
        TaskSucceededSchema,
        { ...base(), cantidadEntidades: BigInt(Math.trunc(cantidad)), detalles: clean(detalles) },
        idOf('succeeded'),
      ),
    failed: (mensajeError, o) =>
      send(
        'failed',
        TaskFailedSchema,
        {
          ...base(),
          mensajeError,
          willRetry: o.willRetry,
          errorCode: o.code ?? '',
          detalles: clean(o.detalles),
          retryInMs: BigInt(Math.max(0, Math.trunc(o.retryInMs ?? 0))),
        },
        idOf('failed'),
      ),
    skipped: (reason, detalles) =>
      send('skipped', TaskSkippedSchema, { ...base(), reason, detalles: clean(detalles) }, idOf('skipped')),
    async log(entry) {
      await publishLog(js, names, { ...entry, taskId: context.taskId }, context, clock);
    },
  };
}

/** Publishes one Log event (`lucy.evt.log.<level>`), optionally tied to a task. */
export async function publishLog(
  js: JetStreamClient,
  names: Names,
  entry: LogInput & { taskId?: string },
  context?: TaskContext,
  clock: () => Date = () => new Date(),
): Promise<void> {
  const id = uuidv7(clock().getTime());
  const msg = create(LogEventSchema, {
    id,
    level: LEVELS[entry.level],
    module: entry.module,
    message: entry.message,
    detalles: entry.detalles
      ? redactSecrets<JsonObject>(JSON.parse(JSON.stringify(entry.detalles)) as JsonObject)
      : undefined,
    alumnoId: entry.alumnoId ?? '',
    usuario: entry.usuario ?? '',
    taskId: entry.taskId ?? '',
    occurredAt: timestampFromDate(clock()),
  });
  const subject = names.evt('log', entry.level.toLowerCase());
  const span = context ? startPublishSpan(subject, context.traceparent) : undefined;
  const headers =
    context && span
      ? taskHeaders({ ...context, traceparent: span.traceparent }, CONTENT_TYPE.protobuf)
      : undefined;
  await js.publish(subject, encode(LogEventSchema, msg), { ...(headers ? { headers } : {}), msgID: id }).then(
    () => span?.end(),
    (err: unknown) => {
      span?.end(err);
      throw err;
    },
  );
}
