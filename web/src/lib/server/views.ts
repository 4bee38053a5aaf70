// Plain, serialisable views of the services' messages for the pages (no protobuf classes in the browser).
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  LogLevel,
  TareaEstado,
  TareaTipo,
  Trigger,
  type DeadLetter,
  type LogEntry,
  type Tarea,
  type TimelineEntry,
} from '@lucy/proto';
import type { JsonObject } from '@bufbuild/protobuf';

const iso = (t: Timestamp | undefined): string | null => (t ? timestampDate(t).toISOString() : null);
// Generated enums drop the proto prefix: TareaEstado[4] is "FAILED".
const enumName = (e: Record<number, string>, v: number) =>
  (e[v] ?? '').toLowerCase().replace(/^unspecified$/, '');

// protobuf-es maps google.protobuf.Struct to a plain JSON object already.
function struct(s: JsonObject | undefined): JsonObject | null {
  return s ?? null;
}

export interface TareaView {
  id: string;
  tipo: string;
  estado: string;
  taskName: string;
  trigger: string;
  requestedBy: string;
  /** Name of the periodic task that fired it (trigger schedule); empty otherwise. */
  periodicTask: string;
  alumnoId: string;
  alumnoNombre: string;
  scheduledAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  lastHeartbeatAt: string | null;
  durationMs: number;
  cantidadEntidades: number;
  mensajeError: string;
  attempts: number;
  parentId: string;
  subject: string;
  progressDone: number;
  progressTotal: number;
  detalles: JsonObject | null;
  parametros: JsonObject | null;
}

export function tareaView(t: Tarea): TareaView {
  return {
    id: t.id,
    tipo: enumName(TareaTipo, t.tipo),
    estado: enumName(TareaEstado, t.estado),
    taskName: t.taskName,
    trigger: enumName(Trigger, t.trigger),
    requestedBy: t.requestedBy,
    periodicTask: t.periodicTask,
    alumnoId: t.alumnoId,
    alumnoNombre: t.alumnoNombre,
    scheduledAt: iso(t.scheduledAt),
    startedAt: iso(t.startedAt),
    finishedAt: iso(t.finishedAt),
    lastHeartbeatAt: iso(t.lastHeartbeatAt),
    durationMs: Number(t.durationMs),
    cantidadEntidades: Number(t.cantidadEntidades),
    mensajeError: t.mensajeError,
    attempts: t.attempts,
    parentId: t.parentId,
    subject: t.subject,
    progressDone: Number(t.progressDone),
    progressTotal: Number(t.progressTotal),
    detalles: struct(t.detalles),
    parametros: struct(t.parametros),
  };
}

/** The short row the lists and the live feed use (no JSON documents). */
export type TareaRow = Omit<TareaView, 'detalles' | 'parametros'>;

export function tareaRow(t: Tarea): TareaRow {
  const { detalles: _d, parametros: _p, ...row } = tareaView(t);
  return row;
}

export interface LogView {
  id: string;
  nivel: string;
  modulo: string;
  mensaje: string;
  detalles: JsonObject | null;
  alumnoId: string;
  usuario: string;
  taskId: string;
  fecha: string | null;
}

export function logView(l: LogEntry): LogView {
  return {
    id: l.id,
    nivel: enumName(LogLevel, l.level) || 'info',
    modulo: l.module,
    mensaje: l.message,
    detalles: struct(l.detalles),
    alumnoId: l.alumnoId,
    usuario: l.usuario,
    taskId: l.taskId,
    fecha: iso(l.occurredAt),
  };
}

export interface TimelineView {
  kind: string;
  at: string | null;
  attempt: number;
  message: string;
}

export function timelineView(e: TimelineEntry): TimelineView {
  return { kind: e.kind, at: iso(e.occurredAt), attempt: e.attempt, message: e.message };
}

export interface DeadLetterView {
  sequence: string;
  originalSubject: string;
  reason: string;
  consumer: string;
  deliveries: number;
  at: string | null;
  headers: [string, string][];
  contentType: string;
  taskId: string;
  /** The payload as text: pretty JSON when it is JSON, else a hex dump (shown escaped, never as HTML). */
  payload: string;
  payloadBytes: number;
}

function payloadText(bytes: Uint8Array, contentType: string): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (contentType.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      /* not JSON after all: fall through to the dump */
    }
  }
  const hex: string[] = [];
  for (let i = 0; i < bytes.length && i < 4096; i += 16) {
    const chunk = bytes.subarray(i, i + 16);
    const h = Array.from(chunk, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const a = Array.from(chunk, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    hex.push(`${i.toString(16).padStart(6, '0')}  ${h.padEnd(47)}  ${a}`);
  }
  if (bytes.length > 4096) hex.push(`… (${bytes.length} bytes en total)`);
  return hex.join('\n');
}

export function deadLetterView(d: DeadLetter): DeadLetterView {
  return {
    sequence: d.sequence.toString(),
    originalSubject: d.originalSubject,
    reason: d.reason,
    consumer: d.consumer,
    deliveries: d.deliveries,
    at: iso(d.deadLetteredAt),
    headers: Object.entries(d.headers).sort(([a], [b]) => a.localeCompare(b)),
    contentType: d.contentType,
    taskId: d.taskId,
    payload: payloadText(d.payload, d.contentType),
    payloadBytes: d.payload.length,
  };
}

/** The enum value of a lowercase name (`failed` → TareaEstado.FAILED), or undefined. */
export function enumValue(e: Record<string, string | number>, name: string): number | undefined {
  const v = e[name.toUpperCase()];
  return typeof v === 'number' && v !== 0 ? v : undefined;
}
