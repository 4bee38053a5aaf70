/**
 * Deletions of external accounts: the history the mass-deletion hold counts (`en_curso`, `realizada`) and the
 * deletions it holds for an admin (`retenida` → `confirmada` or `descartada`). The count and the insert happen
 * under one transaction-scoped advisory lock, so concurrent deletions on any replica cannot slip past the limit.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from '@mikro-orm/postgresql';
import { asDate } from './cuenta.repository.js';

export type EliminacionEstado =
  'en_curso' | 'realizada' | 'retenida' | 'confirmada' | 'descartada' | 'rechazada';

/** A row of `identity.eliminacion`. */
export interface EliminacionRow {
  id: string;
  task_id: string;
  alumno_id: string;
  upn: string;
  moodle_username: string | null;
  estado: EliminacionEstado;
  motivo: string | null;
  requested_by: string;
  creada_en: Date;
  decidida_en: Date | null;
  decidida_por: string | null;
  realizada_en: Date | null;
}

const table = (knex: Knex) => knex.withSchema('identity').table('eliminacion');
const toRow = (r: Record<string, unknown>): EliminacionRow => ({
  ...(r as unknown as EliminacionRow),
  creada_en: asDate(r.creada_en) ?? new Date(0),
  decidida_en: asDate(r.decidida_en),
  realizada_en: asDate(r.realizada_en),
});
const LOCK_KEY = 7_104_001;

/** The row of a task's deletion, if it was recorded. */
export async function getEliminacionByTask(knex: Knex, taskId: string): Promise<EliminacionRow | undefined> {
  const r = (await table(knex).where('task_id', taskId).first()) as Record<string, unknown> | undefined;
  return r ? toRow(r) : undefined;
}

export async function getEliminacion(knex: Knex, id: string): Promise<EliminacionRow | undefined> {
  const r = (await table(knex).where('id', id).first()) as Record<string, unknown> | undefined;
  return r ? toRow(r) : undefined;
}

/**
 * Records a deletion about to run (`en_curso`), or holds it (`retenida`) when the deletions already counted in the
 * window reach `max`. A confirmed held deletion (`bypass`) is always recorded as running. Idempotent per task.
 */
export async function admitEliminacion(
  knex: Knex,
  input: {
    taskId: string;
    alumnoId: string;
    upn: string;
    moodleUsername: string | null;
    requestedBy: string;
    motivo: string | null;
    now: Date;
    windowMs: number;
    max: number;
    bypass: boolean;
  },
): Promise<{ row: EliminacionRow; inWindow: number }> {
  return knex.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?)', [LOCK_KEY]);
    const existing = await getEliminacionByTask(trx, input.taskId);
    const since = new Date(input.now.getTime() - input.windowMs);
    const [{ count }] = (await table(trx)
      .whereIn('estado', ['en_curso', 'realizada'])
      .where('creada_en', '>', since)
      .whereNot('task_id', input.taskId)
      .count({ count: '*' })) as [{ count: string | number }];
    const inWindow = Number(count);
    if (existing && existing.estado !== 'retenida') return { row: existing, inWindow };
    const estado: EliminacionEstado = input.bypass || inWindow < input.max ? 'en_curso' : 'retenida';
    if (existing) {
      // Still held: stays held until an admin decides.
      return { row: existing, inWindow };
    }
    const row: EliminacionRow = {
      id: randomUUID(),
      task_id: input.taskId,
      alumno_id: input.alumnoId,
      upn: input.upn,
      moodle_username: input.moodleUsername,
      estado,
      motivo: input.motivo,
      requested_by: input.requestedBy,
      creada_en: input.now,
      decidida_en: null,
      decidida_por: null,
      realizada_en: null,
    };
    await table(trx).insert(row);
    return { row, inWindow };
  });
}

/** Sets the estado of a deletion. */
export async function setEliminacionEstado(
  knex: Knex,
  id: string,
  estado: EliminacionEstado,
  patch: Partial<Pick<EliminacionRow, 'decidida_en' | 'decidida_por' | 'realizada_en'>> = {},
): Promise<void> {
  await table(knex)
    .where('id', id)
    .update({ estado, ...patch });
}

/** Held deletions, oldest first. */
export async function listRetenidas(knex: Knex): Promise<EliminacionRow[]> {
  const rows = (await table(knex).where('estado', 'retenida').orderBy('creada_en')) as Record<
    string,
    unknown
  >[];
  return rows.map(toRow);
}

/**
 * Moves held deletions to `confirmada` or `descartada` (only those still held) and returns the rows changed.
 */
export async function decideRetenidas(
  knex: Knex,
  ids: readonly string[],
  decision: 'confirmada' | 'descartada',
  by: string,
  now: Date,
): Promise<EliminacionRow[]> {
  if (ids.length === 0) return [];
  const rows = (await table(knex)
    .whereIn('id', [...ids])
    .where('estado', 'retenida')
    .update({ estado: decision, decidida_en: now, decidida_por: by })
    .returning('*')) as Record<string, unknown>[];
  return rows.map(toRow);
}
