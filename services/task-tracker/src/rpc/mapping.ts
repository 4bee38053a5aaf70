import { create, type JsonObject } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { isUuid, ValidationError, type FieldError } from '@lucy/platform';
import {
  LogEntrySchema,
  LogLevel,
  TareaEstado,
  TareaSchema,
  TareaTipo,
  Trigger,
  type LogEntry,
  type Tarea,
} from '@lucy/proto';
import { pgDate, str } from '../db/tarea.repository.js';
import type { TareaState } from '../domain/projection.js';

const enumValue = <E extends Record<string, string | number>>(
  e: E,
  name: string | null | undefined,
): number => (name ? ((e[name.toUpperCase() as keyof E] as number | undefined) ?? 0) : 0);

/** Lower-case name of an enum value (`TareaEstado.FAILED` → `failed`). */
export const enumName = (e: Record<number, string>, value: number): string => (e[value] ?? '').toLowerCase();

const ts = (d: Date | null | undefined): Timestamp | undefined => (d ? timestampFromDate(d) : undefined);

/** Domain state → proto Tarea. */
export function toTarea(s: TareaState): Tarea {
  return create(TareaSchema, {
    id: s.id,
    tipo: enumValue(TareaTipo, s.tipo),
    estado: enumValue(TareaEstado, s.estado),
    taskName: s.taskName,
    trigger: enumValue(Trigger, s.trigger),
    requestedBy: s.requestedBy,
    alumnoId: s.alumnoId ?? '',
    alumnoNombre: s.alumnoNombre ?? '',
    scheduledAt: ts(s.scheduledAt),
    startedAt: ts(s.startedAt),
    finishedAt: ts(s.finishedAt),
    durationMs: BigInt(Math.trunc(s.durationMs)),
    cantidadEntidades: BigInt(Math.trunc(s.cantidadEntidades)),
    detalles: (s.detalles ?? undefined) as JsonObject | undefined,
    mensajeError: s.mensajeError ?? '',
    attempts: s.attempts,
    parentId: s.parentId ?? '',
    parametros: (s.parametros ?? undefined) as JsonObject | undefined,
    lastHeartbeatAt: ts(s.lastHeartbeatAt),
    progressDone: BigInt(Math.trunc(s.progressDone)),
    progressTotal: BigInt(Math.trunc(s.progressTotal)),
    subject: s.subject ?? '',
    traceId: s.traceId ?? '',
    periodicTask: s.periodicTask ?? '',
  });
}

/** `tracker.log` row → proto LogEntry. */
export function toLogEntry(r: Record<string, unknown>): LogEntry {
  return create(LogEntrySchema, {
    id: String(r.id),
    level: enumValue(LogLevel, r.level as string),
    module: str(r.module),
    message: str(r.message),
    detalles: (r.detalles && typeof r.detalles === 'object' && !Array.isArray(r.detalles)
      ? r.detalles
      : undefined) as JsonObject | undefined,
    alumnoId: (r.alumno_id as string | null) ?? '',
    usuario: (r.usuario as string | null) ?? '',
    taskId: (r.task_id as string | null) ?? '',
    occurredAt: ts(pgDate(r.occurred_at)),
  });
}

/** Keyset cursor `(time, id)` as an opaque token. */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** Decodes a page token, adding a field error when it is not one of ours. */
export function decodeCursor(
  token: string,
  field: string,
  problems: FieldError[],
): { at: string; id: string } | undefined {
  if (!token) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [string, string];
    // The id goes to a `?::uuid` cast and the instant to `?::timestamptz`: anything else would be Internal.
    if (
      typeof at !== 'string' ||
      typeof id !== 'string' ||
      !ISO_INSTANT.test(at) ||
      Number.isNaN(Date.parse(at)) ||
      !isUuid(id)
    )
      throw new Error('bad');
    return { at, id };
  } catch {
    problems.push({ field, message: 'El token de página no es válido; vuelva a pedir la primera página' });
    return undefined;
  }
}

/** Validates the page size (0 = 50, max 500). */
export function pageSize(size: number, problems: FieldError[], field = 'page.pageSize'): number {
  if (size < 0 || size > 500)
    problems.push({ field, message: 'El tamaño de página debe estar entre 1 y 500' });
  return size > 0 ? Math.min(size, 500) : 50;
}

/** Validates a desde/hasta range. */
export function dateRange(
  desde: Timestamp | undefined,
  hasta: Timestamp | undefined,
  prefix: string,
  problems: FieldError[],
): { desde?: Date; hasta?: Date } {
  const d = desde ? timestampDate(desde) : undefined;
  const h = hasta ? timestampDate(hasta) : undefined;
  if (d && h && d >= h)
    problems.push({ field: `${prefix}desde`, message: 'La fecha desde debe ser anterior a hasta' });
  return { ...(d ? { desde: d } : {}), ...(h ? { hasta: h } : {}) };
}

/** Throws a ValidationError when any problem was collected. */
export function assertValid(problems: FieldError[]): void {
  if (problems.length > 0) throw new ValidationError(problems);
}
