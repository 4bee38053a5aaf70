/**
 * The account record of each alumno and the recorded state machine of each task, with raw SQL through knex.
 * Every write that matters for exactly-once (a step done, the Graph object id, the credential in use) is one
 * statement, committed before the next external call.
 */
import type { Knex } from '@mikro-orm/postgresql';

/** Estados of an account record. */
export type CuentaEstado = 'pendiente' | 'activa' | 'eliminada' | 'fallida';

/** A row of `identity.cuenta`. */
export interface CuentaRow {
  alumno_id: string;
  dni: string;
  upn: string;
  graph_id: string | null;
  licencia_sku: string | null;
  licencia_asignada: boolean;
  moodle_id: number | null;
  moodle_username: string | null;
  email_solicitado: boolean;
  /** When the relay accepted its last credentials e-mail (the notifier's event); null: none yet. */
  email_enviado_en: Date | null;
  estado: CuentaEstado;
  ultimo_error: string | null;
  creada_en: Date | null;
  activada_en: Date | null;
  eliminada_en: Date | null;
  actualizada_en: Date;
}

/** A row of `identity.operacion`: one task's plan and the steps already done. */
export interface OperacionRow {
  task_id: string;
  alumno_id: string;
  tipo: string;
  plan: string[];
  hechos: string[];
  credencial_id: string | null;
  email_task_id: string | null;
  creando: boolean;
  completada_en: Date | null;
}

const CUENTA_COLUMNS = [
  'alumno_id',
  'dni',
  'upn',
  'graph_id',
  'licencia_sku',
  'licencia_asignada',
  'moodle_id',
  'moodle_username',
  'email_solicitado',
  'email_enviado_en',
  'estado',
  'ultimo_error',
  'creada_en',
  'activada_en',
  'eliminada_en',
  'actualizada_en',
];

/** A timestamp column as a Date (the driver may hand back text). */
export const asDate = (v: unknown): Date | null =>
  v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : null;

const toCuenta = (r: Record<string, unknown>): CuentaRow => ({
  alumno_id: String(r.alumno_id),
  dni: String(r.dni),
  upn: String(r.upn),
  graph_id: (r.graph_id as string | null) ?? null,
  licencia_sku: (r.licencia_sku as string | null) ?? null,
  licencia_asignada: Boolean(r.licencia_asignada),
  moodle_id: r.moodle_id === null || r.moodle_id === undefined ? null : Number(r.moodle_id),
  moodle_username: (r.moodle_username as string | null) ?? null,
  email_solicitado: Boolean(r.email_solicitado),
  email_enviado_en: asDate(r.email_enviado_en),
  estado: r.estado as CuentaEstado,
  ultimo_error: (r.ultimo_error as string | null) ?? null,
  creada_en: asDate(r.creada_en),
  activada_en: asDate(r.activada_en),
  eliminada_en: asDate(r.eliminada_en),
  actualizada_en: asDate(r.actualizada_en) ?? new Date(0),
});

const toOperacion = (r: Record<string, unknown>): OperacionRow => ({
  task_id: String(r.task_id),
  alumno_id: String(r.alumno_id),
  tipo: String(r.tipo),
  plan: (r.plan as string[]) ?? [],
  hechos: (r.hechos as string[]) ?? [],
  credencial_id: (r.credencial_id as string | null) ?? null,
  email_task_id: (r.email_task_id as string | null) ?? null,
  creando: Boolean(r.creando),
  completada_en: asDate(r.completada_en),
});

export const cuentaTable = (knex: Knex) => knex.withSchema('identity').table('cuenta');

/** The account record of an alumno, or undefined. */
export async function getCuenta(knex: Knex, alumnoId: string): Promise<CuentaRow | undefined> {
  const row = (await cuentaTable(knex).select(CUENTA_COLUMNS).where('alumno_id', alumnoId).first()) as
    Record<string, unknown> | undefined;
  return row ? toCuenta(row) : undefined;
}

/** Account records of several alumnos, by alumno id. */
export async function getCuentas(knex: Knex, alumnoIds: readonly string[]): Promise<Map<string, CuentaRow>> {
  if (alumnoIds.length === 0) return new Map();
  const rows = (await cuentaTable(knex)
    .select(CUENTA_COLUMNS)
    .whereIn('alumno_id', [...alumnoIds])) as Record<string, unknown>[];
  return new Map(rows.map((r) => [String(r.alumno_id), toCuenta(r)]));
}

/**
 * Takes the alumno's lease for one run of a task (creating its record on first use): only one run works on an
 * alumno at a time, even two deliveries of the same task. Undefined while another run holds it and its lease has
 * not run out; a crashed run's lease runs out after `leaseMs` (renewed at every step).
 */
export async function claimCuenta(
  knex: Knex,
  input: {
    alumnoId: string;
    dni: string;
    upn: string;
    taskId: string;
    runId: string;
    now: Date;
    leaseMs: number;
  },
): Promise<CuentaRow | undefined> {
  const until = new Date(input.now.getTime() + input.leaseMs);
  const { rows } = await knex.raw<{ rows: Record<string, unknown>[] }>(
    `insert into identity.cuenta as c (alumno_id, dni, upn, lease_task, lease_run, lease_hasta, actualizada_en)
     values (?, ?, ?, ?, ?, ?, ?)
     on conflict (alumno_id) do update
       set lease_task = excluded.lease_task, lease_run = excluded.lease_run, lease_hasta = excluded.lease_hasta
     where c.lease_run is null or c.lease_hasta < ?
     returning ${CUENTA_COLUMNS.join(', ')}`,
    [input.alumnoId, input.dni, input.upn, input.taskId, input.runId, until, input.now, input.now],
  );
  return rows[0] ? toCuenta(rows[0]) : undefined;
}

/** Extends a run's lease; false when the run no longer holds it. */
export async function renewCuenta(
  knex: Knex,
  alumnoId: string,
  runId: string,
  until: Date,
): Promise<boolean> {
  const n = await cuentaTable(knex)
    .where({ alumno_id: alumnoId, lease_run: runId })
    .update({ lease_hasta: until });
  return n > 0;
}

/** Gives the lease back (only if this run holds it). */
export async function releaseCuenta(knex: Knex, alumnoId: string, runId: string): Promise<void> {
  await cuentaTable(knex)
    .where({ alumno_id: alumnoId, lease_run: runId })
    .update({ lease_task: null, lease_run: null, lease_hasta: null });
}

/** Writes some columns of an account record. */
export async function updateCuenta(
  knex: Knex,
  alumnoId: string,
  patch: Partial<Omit<CuentaRow, 'alumno_id'>>,
  now: Date,
): Promise<CuentaRow> {
  const rows: Record<string, unknown>[] = await cuentaTable(knex)
    .where('alumno_id', alumnoId)
    .update({ ...patch, actualizada_en: now })
    .returning(CUENTA_COLUMNS);
  if (!rows[0]) throw new Error(`no account record for ${alumnoId}`);
  return toCuenta(rows[0]);
}

/** Filters of {@link listCuentas}. */
export interface CuentaFilter {
  estado?: string;
  search?: string;
  alumnoIds?: readonly string[];
  limit: number;
  offset: number;
}

/** A page of account records, newest change first, and the total matching. */
export async function listCuentas(
  knex: Knex,
  f: CuentaFilter,
): Promise<{ rows: CuentaRow[]; total: number }> {
  const q = cuentaTable(knex);
  if (f.estado) q.where('estado', f.estado);
  if (f.alumnoIds && f.alumnoIds.length > 0) q.whereIn('alumno_id', [...f.alumnoIds]);
  if (f.search) {
    const like = `%${f.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q.where((w) => void w.whereILike('upn', like).orWhereILike('dni', like));
  }
  const [{ count }] = (await q.clone().count({ count: '*' })) as [{ count: string | number }];
  const rows = (await q
    .select(CUENTA_COLUMNS)
    .orderBy([
      { column: 'actualizada_en', order: 'desc' },
      { column: 'alumno_id', order: 'asc' },
    ])
    .limit(f.limit)
    .offset(f.offset)) as Record<string, unknown>[];
  return { rows: rows.map(toCuenta), total: Number(count) };
}

/** Accounts that exist (not deleted) in the directory: the base of the mass-deletion hold. */
export async function countCuentasActivas(knex: Knex): Promise<number> {
  const [{ count }] = (await cuentaTable(knex)
    .whereNotNull('graph_id')
    .whereNot('estado', 'eliminada')
    .count({ count: '*' })) as [{ count: string | number }];
  return Number(count);
}

const operacionTable = (knex: Knex) => knex.withSchema('identity').table('operacion');

/** The recorded state machine of a task, or undefined on its first attempt. */
export async function getOperacion(knex: Knex, taskId: string): Promise<OperacionRow | undefined> {
  const row = (await operacionTable(knex).where('task_id', taskId).first()) as
    Record<string, unknown> | undefined;
  return row ? toOperacion(row) : undefined;
}

/** Records a task's plan; a concurrent or earlier record of the same task wins and is returned. */
export async function createOperacion(
  knex: Knex,
  input: { taskId: string; alumnoId: string; tipo: string; plan: readonly string[]; now: Date },
): Promise<OperacionRow> {
  await knex.raw(
    `insert into identity.operacion (task_id, alumno_id, tipo, plan, creada_en, actualizada_en)
     values (?, ?, ?, ?::text[], ?, ?) on conflict (task_id) do nothing`,
    [input.taskId, input.alumnoId, input.tipo, [...input.plan], input.now, input.now],
  );
  return (await getOperacion(knex, input.taskId))!;
}

/** Records one step as done (idempotent). */
export async function markHecho(knex: Knex, taskId: string, paso: string, now: Date): Promise<void> {
  await knex.raw(
    `update identity.operacion set hechos = array_append(hechos, ?::text), actualizada_en = ?
     where task_id = ? and not (? = any(hechos))`,
    [paso, now, taskId, paso],
  );
}

/**
 * Records a step done and, in the same statement, renews the run's lease on the alumno (the step is recorded
 * either way: it happened). False when the run no longer holds the lease: the caller stops before the next step.
 */
export async function markHechoAndRenew(
  knex: Knex,
  input: { taskId: string; paso: string; alumnoId: string; runId: string; until: Date; now: Date },
): Promise<boolean> {
  const { rows } = await knex.raw<{ rows: { renewed: boolean }[] }>(
    `with op as (
       update identity.operacion set hechos = array_append(hechos, ?::text), actualizada_en = ?
        where task_id = ? and not (? = any(hechos))
        returning 1
     ), lease as (
       update identity.cuenta set lease_hasta = ? where alumno_id = ? and lease_run = ? returning 1
     )
     select exists (select 1 from lease) as renewed, (select count(*) from op) as marked`,
    [input.paso, input.now, input.taskId, input.paso, input.until, input.alumnoId, input.runId],
  );
  return Boolean(rows[0]?.renewed);
}

/** Writes some columns of a task's record. */
export async function updateOperacion(
  knex: Knex,
  taskId: string,
  patch: Partial<Pick<OperacionRow, 'credencial_id' | 'email_task_id' | 'creando' | 'completada_en'>>,
  now: Date,
): Promise<void> {
  await operacionTable(knex)
    .where('task_id', taskId)
    .update({ ...patch, actualizada_en: now });
}

/**
 * Records that the relay accepted a credentials e-mail of the alumno's account; undefined when the alumno has no
 * live account (none, or deleted since). Applying the same event twice changes nothing but the time.
 */
export async function markEmailEnviado(
  knex: Knex,
  alumnoId: string,
  enviadoEn: Date,
  now: Date,
): Promise<CuentaRow | undefined> {
  const rows: Record<string, unknown>[] = await cuentaTable(knex)
    .where('alumno_id', alumnoId)
    .whereNot('estado', 'eliminada')
    .update({
      email_enviado_en: knex.raw('greatest(email_enviado_en, ?::timestamptz)', [enviadoEn]),
      actualizada_en: now,
    })
    .returning(CUENTA_COLUMNS);
  return rows[0] ? toCuenta(rows[0]) : undefined;
}
