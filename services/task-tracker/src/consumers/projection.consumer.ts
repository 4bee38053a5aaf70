import { toJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  decode,
  H,
  header,
  parseContentType,
  redactSecrets,
  taskBySubject,
  taskContextOf,
  taskIdFromDelivery,
  tipoOf,
  traceIdOf,
  type Names,
} from '@lucy/platform';
import {
  AlumnoCreatedSchema,
  AlumnoDeletedSchema,
  AlumnoUpdatedSchema,
  LogEventSchema,
  LogLevel,
  TareaTipo,
  TaskFailedSchema,
  TaskProgressSchema,
  TaskSkippedSchema,
  TaskStartedSchema,
  TaskSucceededSchema,
} from '@lucy/proto';
import type { EventContext, TareaEvent } from '../domain/projection.js';
import type { AlumnoRef, LogInsert, TareaFact } from '../db/tarea.repository.js';
import type { JsMsg } from './batch-consumer.js';

const msgTime = (msg: JsMsg) => new Date(Math.floor(msg.info.timestampNanos / 1e6));
const at = (ts: Timestamp | undefined, msg: JsMsg) => (ts ? timestampDate(ts) : msgTime(msg));
const asObject = (v: JsonValue | undefined | null): Record<string, unknown> | null =>
  v && typeof v === 'object' && !Array.isArray(v) ? redactSecrets(v) : null;

/** Lower-case tipo name of design.md for an enum value (`TareaTipo.MANTENIMIENTO` → `mantenimiento`). */
export function tipoName(t: TareaTipo): string | null {
  return t === TareaTipo.UNSPECIFIED ? null : (TareaTipo[t] ?? '').toLowerCase() || null;
}

/**
 * A command on `lucy.cmd.>` → the `published` fact of a pending Tarea. Never throws: a command that cannot be
 * decoded still becomes a Tarea (with null parameters) so staff see it; its worker dead-letters and fails it.
 */
export function commandFact(msg: JsMsg, names: Names): TareaFact {
  const subject = names.canonical(msg.subject);
  const spec = taskBySubject(subject);
  const task = taskContextOf(msg, spec?.name ?? '');
  const contentType = header(msg.headers, H.contentType) ?? 'application/protobuf';
  let parametros: Record<string, unknown> | null = null;
  let tipo: string | null = null;
  let alumnoId: string | undefined;
  if (spec) {
    try {
      const decoded = decode(spec.schema, msg.data, contentType);
      parametros = asObject(toJson(spec.schema, decoded, { alwaysEmitImplicit: false })) ?? {};
      tipo = tipoName(
        tipoOf(spec, toJson(spec.schema, decoded, { enumAsInteger: true }) as Record<string, unknown>),
      );
      const a = (decoded as { alumnoId?: unknown }).alumnoId;
      if (typeof a === 'string' && a) alumnoId = a;
    } catch {
      tipo = tipoName(tipoOf(spec, {}));
    }
  }
  return {
    seq: msg.info.streamSequence,
    event: {
      kind: 'published',
      taskId: task.taskId,
      at: msgTime(msg),
      tipo,
      subject,
      alumnoId,
      parametros,
      payload: msg.data,
      contentType: parseContentType(contentType) ?? contentType,
      taskName: task.taskType,
      trigger: task.trigger,
      requestedBy: task.requestedBy,
      parentId: task.parentTaskId,
      traceId: traceIdOf(header(msg.headers, H.traceparent)),
      periodicTask: header(msg.headers, H.periodicTask)?.slice(0, 200) || undefined,
    },
  };
}

function contextOf(msg: JsMsg): EventContext {
  return {
    taskName: header(msg.headers, H.taskType),
    trigger: header(msg.headers, H.trigger),
    requestedBy: header(msg.headers, H.requestedBy),
    parentId: header(msg.headers, H.parentTaskId),
    traceId: traceIdOf(header(msg.headers, H.traceparent)),
  };
}

/**
 * A task lifecycle event on `lucy.evt.task.<event>` → a fact. Throws (dead-letter) when it cannot be decoded;
 * returns undefined for an unknown event kind (acked and ignored, for forward compatibility).
 */
export function taskEventFact(msg: JsMsg, names: Names): TareaFact | undefined {
  const kind = names.canonical(msg.subject).split('.').at(-1);
  const ct = header(msg.headers, H.contentType);
  const ctx = contextOf(msg);
  const seq = msg.info.streamSequence;
  const mk = (e: TareaEvent): TareaFact => {
    if (!e.taskId) throw new Error('event without task_id');
    return { seq, event: e };
  };
  switch (kind) {
    case 'started': {
      const m = decode(TaskStartedSchema, msg.data, ct);
      return mk({
        kind: 'started',
        taskId: m.taskId,
        at: at(m.occurredAt, msg),
        attempt: Math.max(1, m.attempt),
        alumnoId: m.alumnoId || undefined,
        ...ctx,
        taskName: m.taskName || ctx.taskName,
      });
    }
    case 'progress': {
      const m = decode(TaskProgressSchema, msg.data, ct);
      return mk({
        kind: 'progress',
        taskId: m.taskId,
        at: at(m.occurredAt, msg),
        attempt: Math.max(1, m.attempt),
        heartbeat: m.heartbeat,
        done: Number(m.done),
        total: Number(m.total),
        message: m.message || undefined,
        ...ctx,
        taskName: m.taskName || ctx.taskName,
      });
    }
    case 'succeeded': {
      const m = decode(TaskSucceededSchema, msg.data, ct);
      return mk({
        kind: 'succeeded',
        taskId: m.taskId,
        at: at(m.occurredAt, msg),
        attempt: Math.max(1, m.attempt),
        cantidadEntidades: Number(m.cantidadEntidades),
        detalles: asObject(m.detalles),
        ...ctx,
        taskName: m.taskName || ctx.taskName,
      });
    }
    case 'failed': {
      const m = decode(TaskFailedSchema, msg.data, ct);
      return mk({
        kind: 'failed',
        taskId: m.taskId,
        at: at(m.occurredAt, msg),
        attempt: Math.max(1, m.attempt),
        mensajeError: m.mensajeError,
        willRetry: m.willRetry,
        errorCode: m.errorCode,
        detalles: asObject(m.detalles),
        retryInMs: Number(m.retryInMs) || undefined,
        ...ctx,
        taskName: m.taskName || ctx.taskName,
      });
    }
    case 'skipped': {
      const m = decode(TaskSkippedSchema, msg.data, ct);
      return mk({
        kind: 'skipped',
        taskId: m.taskId,
        at: at(m.occurredAt, msg),
        attempt: Math.max(1, m.attempt),
        reason: m.reason,
        detalles: asObject(m.detalles),
        ...ctx,
        taskName: m.taskName || ctx.taskName,
      });
    }
    default:
      return undefined;
  }
}

/** A log event on `lucy.evt.log.<level>` → a Log row (id from the event, or derived from the delivery). */
export function logRow(msg: JsMsg): LogInsert {
  const m = decode(LogEventSchema, msg.data, header(msg.headers, H.contentType));
  const level = m.level === LogLevel.UNSPECIFIED ? 'INFO' : (LogLevel[m.level] ?? 'INFO');
  return {
    id:
      m.id ||
      taskIdFromDelivery(msg.info.stream, msg.info.streamSequence, Math.floor(msg.info.timestampNanos / 1e6)),
    level,
    module: m.module,
    message: m.message,
    detalles: asObject(m.detalles),
    alumnoId: m.alumnoId || null,
    usuario: m.usuario || null,
    taskId: m.taskId || header(msg.headers, H.taskId) || null,
    occurredAt: at(m.occurredAt, msg),
    traceId: traceIdOf(header(msg.headers, H.traceparent)) ?? null,
  };
}

/** An alumno event on `lucy.evt.alumno.<event>` → its name ("Apellido, Nombre") and DNI; undefined when unknown. */
export function alumnoRef(msg: JsMsg, names: Names): AlumnoRef | undefined {
  const kind = names.canonical(msg.subject).split('.').at(-1);
  const ct = header(msg.headers, H.contentType);
  const schema =
    kind === 'created'
      ? AlumnoCreatedSchema
      : kind === 'updated'
        ? AlumnoUpdatedSchema
        : kind === 'deleted'
          ? AlumnoDeletedSchema
          : undefined;
  if (!schema) return undefined;
  const a = decode(schema, msg.data, ct).alumno;
  if (!a?.id) return undefined;
  const nombre = [a.apellido, a.nombre].filter(Boolean).join(', ');
  return { id: a.id, nombre, dni: a.dni };
}
