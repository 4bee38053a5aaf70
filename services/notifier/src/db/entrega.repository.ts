/**
 * Delivery records (`notify.entrega`), one per Tarea. The state machine that keeps a redelivered command from
 * sending twice:
 *
 *   (none) ──begin──▶ enviando ──accepted──▶ enviada          (final: a redelivery returns it, sends nothing)
 *                       │  └──4xx/network──▶ reintentando ──begin──▶ enviando …
 *                       └──5xx/refused────▶ fallida           (final)
 *
 * `enviando` is written (and committed) before the SMTP transaction starts and `enviada` right after the relay's
 * 250. A record still `enviando` when its command comes back means the previous attempt died in between: whether
 * the relay accepted the message is unknown (SMTP has no way to ask), so it is sent again with the same
 * Message-ID and the record says `reenvio_incierto`.
 */
import type { Knex } from '@mikro-orm/postgresql';
import { uuidv7 } from '@lucy/platform';
import type { TipoEmail } from '@lucy/proto';
import type { TipoEmailConocido } from '../domain/index.js';
import { tipoFromDb, tipoToDb } from './tipo.js';

/** Status of a delivery. */
export type EstadoEntrega = 'enviando' | 'enviada' | 'reintentando' | 'fallida';
export const ESTADOS_ENTREGA: readonly EstadoEntrega[] = ['enviando', 'enviada', 'reintentando', 'fallida'];

/** A delivery record. Never holds a password or a body. */
export interface EntregaGuardada {
  id: string;
  taskId: string | null;
  tipo: TipoEmail;
  alumnoId: string;
  destinatario: string;
  plantillaVersion: number | null;
  estado: EstadoEntrega;
  messageId: string;
  respuestaSmtp: string;
  error: string;
  intentos: number;
  prueba: boolean;
  creadaEn: Date;
  actualizadaEn: Date;
  enviadaEn: Date | null;
}

const T = 'entrega';
const table = (knex: Knex) => knex.withSchema('notify').table(T);
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(text(v)));
const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

function toEntrega(row: Record<string, unknown>): EntregaGuardada {
  return {
    id: text(row.id),
    taskId: row.task_id === null || row.task_id === undefined ? null : text(row.task_id),
    tipo: tipoFromDb(text(row.tipo)),
    alumnoId: text(row.alumno_id),
    destinatario: text(row.destinatario),
    plantillaVersion: row.plantilla_version === null ? null : Number(row.plantilla_version),
    estado: text(row.estado) as EstadoEntrega,
    messageId: text(row.message_id),
    respuestaSmtp: text(row.respuesta_smtp),
    error: text(row.error),
    intentos: Number(row.intentos ?? 0),
    prueba: Boolean(row.prueba),
    creadaEn: date(row.creada_en),
    actualizadaEn: date(row.actualizada_en),
    enviadaEn: row.enviada_en ? date(row.enviada_en) : null,
  };
}

/** The record of a Tarea, if any. */
export async function findEntregaByTask(knex: Knex, taskId: string): Promise<EntregaGuardada | undefined> {
  const row = (await table(knex).where({ task_id: taskId }).first()) as Record<string, unknown> | undefined;
  return row ? toEntrega(row) : undefined;
}

/** What is known when an attempt starts. */
export interface InicioEntrega {
  taskId: string | null;
  tipo: TipoEmailConocido;
  alumnoId: string;
  destinatario: string;
  plantillaVersion: number | null;
  messageId: string;
  prueba?: boolean;
  ahora: Date;
}

/**
 * Marks the start of an attempt: creates the record or moves it to `enviando`, counting the attempt, and returns
 * it. A record already final (`enviada`, `fallida`: another replica finished it meanwhile) is returned unchanged.
 */
export async function beginEntrega(knex: Knex, inicio: InicioEntrega): Promise<EntregaGuardada> {
  const row = {
    id: uuidv7(),
    task_id: inicio.taskId,
    tipo: tipoToDb(inicio.tipo),
    alumno_id: inicio.alumnoId,
    destinatario: inicio.destinatario,
    plantilla_version: inicio.plantillaVersion,
    estado: 'enviando',
    message_id: inicio.messageId,
    intentos: 1,
    prueba: inicio.prueba ?? false,
    creada_en: inicio.ahora,
    actualizada_en: inicio.ahora,
  };
  if (inicio.taskId === null) {
    const [saved] = (await table(knex).insert(row).returning('*')) as Record<string, unknown>[];
    return toEntrega(saved!);
  }
  const result: unknown = await knex.raw(
    `insert into notify.entrega (id, task_id, tipo, alumno_id, destinatario, plantilla_version, estado, message_id,
       intentos, prueba, creada_en, actualizada_en)
     values (:id, :task_id, :tipo, :alumno_id, :destinatario, :plantilla_version, 'enviando', :message_id, 1, :prueba,
       :creada_en, :actualizada_en)
     on conflict (task_id) where task_id is not null do update set
       estado = 'enviando', intentos = entrega.intentos + 1, destinatario = excluded.destinatario,
       plantilla_version = excluded.plantilla_version, message_id = excluded.message_id,
       actualizada_en = excluded.actualizada_en
     where entrega.estado in ('enviando', 'reintentando')
     returning *`,
    row,
  );
  const saved = (result as { rows: Record<string, unknown>[] }).rows[0];
  if (!saved) {
    // The record reached a final state in between (another replica): report it as it is.
    const existing = await findEntregaByTask(knex, inicio.taskId);
    if (!existing) throw new Error(`delivery record of ${inicio.taskId} vanished`);
    return existing;
  }
  return toEntrega(saved);
}

/** How an attempt ended. */
export interface FinEntrega {
  estado: Exclude<EstadoEntrega, 'enviando'>;
  respuestaSmtp?: string;
  error?: string;
  messageId?: string;
  ahora: Date;
}

/** Records how an attempt ended. */
export async function finishEntrega(knex: Knex, id: string, fin: FinEntrega): Promise<EntregaGuardada> {
  const [saved] = (await table(knex)
    .where({ id })
    .update({
      estado: fin.estado,
      ...(fin.respuestaSmtp !== undefined ? { respuesta_smtp: fin.respuestaSmtp } : {}),
      ...(fin.messageId !== undefined ? { message_id: fin.messageId } : {}),
      error: fin.error ?? '',
      actualizada_en: fin.ahora,
      ...(fin.estado === 'enviada' ? { enviada_en: fin.ahora } : {}),
    })
    .returning('*')) as Record<string, unknown>[];
  return toEntrega(saved!);
}

/**
 * Records a failure found before any SMTP attempt (no address, credential revoked…): a `fallida` record so staff
 * see it in the list. A record already final is left as it is.
 */
export async function failBeforeSending(
  knex: Knex,
  inicio: Omit<InicioEntrega, 'messageId'> & { taskId: string; error: string },
): Promise<void> {
  await knex.raw(
    `insert into notify.entrega (id, task_id, tipo, alumno_id, destinatario, plantilla_version, estado, error,
       intentos, creada_en, actualizada_en)
     values (:id, :task_id, :tipo, :alumno_id, :destinatario, :plantilla_version, 'fallida', :error, 0, :ahora, :ahora)
     on conflict (task_id) where task_id is not null do update set
       estado = 'fallida', error = excluded.error, actualizada_en = excluded.actualizada_en
     where entrega.estado in ('enviando', 'reintentando')`,
    {
      id: uuidv7(),
      task_id: inicio.taskId,
      tipo: tipoToDb(inicio.tipo),
      alumno_id: inicio.alumnoId,
      destinatario: inicio.destinatario,
      plantilla_version: inicio.plantillaVersion,
      error: inicio.error,
      ahora: inicio.ahora,
    },
  );
}

/** Filters of {@link listEntregas}. */
export interface FiltroEntregas {
  alumnoId?: string | undefined;
  estado?: EstadoEntrega | undefined;
  tipo?: TipoEmailConocido | undefined;
  taskId?: string | undefined;
  desde?: Date | undefined;
  hasta?: Date | undefined;
  limit: number;
}

/** Delivery records, newest first. */
export async function listEntregas(knex: Knex, f: FiltroEntregas): Promise<EntregaGuardada[]> {
  const q = table(knex).select('*');
  if (f.alumnoId) q.where('alumno_id', f.alumnoId);
  if (f.estado) q.where('estado', f.estado);
  if (f.tipo) q.where('tipo', tipoToDb(f.tipo));
  if (f.taskId) q.where('task_id', f.taskId);
  if (f.desde) q.where('creada_en', '>=', f.desde);
  if (f.hasta) q.where('creada_en', '<', f.hasta);
  const rows = (await q
    .orderBy([
      { column: 'creada_en', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .limit(f.limit)) as Record<string, unknown>[];
  return rows.map(toEntrega);
}
