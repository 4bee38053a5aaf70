import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import { randomHex } from './random.js';

/** Header names carried by every Lucy message (design.md, "Contracts"). */
export const H = {
  taskId: 'Lucy-Task-Id',
  taskType: 'Lucy-Task-Type',
  requestedBy: 'Lucy-Requested-By',
  trigger: 'Lucy-Trigger',
  parentTaskId: 'Lucy-Parent-Task-Id',
  /** On a command the scheduler fired: the name of the periodic task (UTF-8), shown with its Tarea. */
  periodicTask: 'Lucy-Periodic-Task',
  traceparent: 'traceparent',
  contentType: 'Content-Type',
  msgId: 'Nats-Msg-Id',
  dlqReason: 'Lucy-Dlq-Reason',
  dlqSubject: 'Lucy-Dlq-Original-Subject',
  dlqStream: 'Lucy-Dlq-Original-Stream',
  dlqSequence: 'Lucy-Dlq-Original-Sequence',
  dlqConsumer: 'Lucy-Dlq-Consumer',
  dlqDeliveries: 'Lucy-Dlq-Deliveries',
  dlqAt: 'Lucy-Dlq-At',
} as const;

/** The triggers of design.md, as they travel in `Lucy-Trigger`. */
export const TRIGGERS = ['admin', 'schedule', 'external', 'retry', 'ingest'] as const;
export type TriggerName = (typeof TRIGGERS)[number];

/** Content types the codec understands. */
export const CONTENT_TYPE = { protobuf: 'application/protobuf', json: 'application/json' } as const;
export type ContentType = (typeof CONTENT_TYPE)[keyof typeof CONTENT_TYPE];

/** Who asked for a task and why; travels in headers from the command to every event it causes. */
export interface TaskContext {
  /** UUIDv7. */
  readonly taskId: string;
  /** Registered task name. */
  readonly taskType: string;
  /** Staff user or system. */
  readonly requestedBy: string;
  readonly trigger: TriggerName;
  /** W3C trace context of the command. */
  readonly traceparent: string;
  /** Task this one retries, when any. */
  readonly parentTaskId?: string | undefined;
}

/** A new W3C traceparent (version 00, sampled). */
export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/** A child span of a traceparent: same trace id, new span id; a new trace when the parent is invalid. */
export function childTraceparent(parent: string | undefined): string {
  const m = parent ? /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(parent) : null;
  if (!m) return newTraceparent();
  return `00-${m[1]}-${randomHex(8)}-${m[2]}`;
}

/** Normalises a trigger header value; unknown or absent values are `external`. */
export function parseTrigger(value: string | undefined): TriggerName {
  const v = value?.trim().toLowerCase();
  return (TRIGGERS as readonly string[]).includes(v ?? '') ? (v as TriggerName) : 'external';
}

/** Normalises a content type header; absent means protobuf. Returns undefined for an unsupported one. */
export function parseContentType(value: string | undefined): ContentType | undefined {
  const v = (value ?? CONTENT_TYPE.protobuf).split(';')[0]!.trim().toLowerCase();
  if (v === 'application/protobuf' || v === 'application/x-protobuf' || v === 'application/proto')
    return CONTENT_TYPE.protobuf;
  if (v === 'application/json') return CONTENT_TYPE.json;
  return undefined;
}

/** Builds NATS headers for a task context. */
export function taskHeaders(
  ctx: TaskContext,
  contentType: ContentType,
  extra?: Record<string, string>,
): MsgHdrs {
  const h = natsHeaders();
  h.set(H.taskId, ctx.taskId);
  h.set(H.taskType, ctx.taskType);
  h.set(H.requestedBy, ctx.requestedBy);
  h.set(H.trigger, ctx.trigger);
  h.set(H.traceparent, ctx.traceparent);
  h.set(H.contentType, contentType);
  if (ctx.parentTaskId) h.set(H.parentTaskId, ctx.parentTaskId);
  for (const [k, v] of Object.entries(extra ?? {})) h.set(k, v);
  return h;
}

/** Reads one header, or undefined. */
export function header(h: MsgHdrs | undefined, name: string): string | undefined {
  // Any publisher (a raw client in another language) may put NUL or other control characters in a value; what is
  // read here is shown to staff and stored (PostgreSQL refuses a NUL), so they are dropped.
  // eslint-disable-next-line no-control-regex
  const v = h?.get(name)?.replace(/[\u0000-\u001f\u007f]/g, '');
  return v ? v : undefined;
}

/** All headers as a plain object (first value of each). */
export function headersToRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, values] of h) out[k] = values[0] ?? '';
  return out;
}
