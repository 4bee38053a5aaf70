import type { Knex } from '@mikro-orm/postgresql';
import { TIPOS, type Tipo } from '../domain/index.js';

/** The configuration of one tipo. */
export interface Ventana {
  tipo: Tipo;
  diaInicio: Date | null;
  diaFin: Date | null;
  enviarEmail: boolean;
  activarTeams: boolean;
  activarMoodle: boolean;
  /** Checkpoint: `hasta` of the last successful periodic run. */
  ultimaIngesta: Date | null;
  /** Records received by the last successful full list. */
  ultimaCantidad: number;
}

/** The singleton configuration. */
export interface Configuracion {
  ventanas: Record<Tipo, Ventana>;
  sialRequestsPorSegundo: number;
  sialConcurrencia: number;
  actualizadoEn: Date;
  actualizadoPor: string;
  /** Whether a SIAL user or password is stored in Lucy (not only the deployment's SIAL_USER/SIAL_PASSWORD). */
  sialCredencialesGuardadas: boolean;
}

const T = 'configuracion';
const table = (knex: Knex) => knex.withSchema('ingest').table(T);

/** Reads the configuration row (created by the migration). */
export async function loadConfiguracion(knex: Knex): Promise<Configuracion> {
  const row = (await table(knex).where({ id: 1 }).first()) as Record<string, unknown> | undefined;
  if (!row) throw new Error('ingest.configuracion has no row; run the migrations');
  const date = (v: unknown) =>
    v instanceof Date ? v : typeof v === 'string' || typeof v === 'number' ? new Date(v) : null;
  const ventanas = Object.fromEntries(
    TIPOS.map((tipo) => [
      tipo,
      {
        tipo,
        diaInicio: date(row[`${tipo}_dia_inicio`]),
        diaFin: date(row[`${tipo}_dia_fin`]),
        enviarEmail: Boolean(row[`${tipo}_enviar_email`]),
        activarTeams: Boolean(row[`${tipo}_activar_teams`]),
        activarMoodle: Boolean(row[`${tipo}_activar_moodle`]),
        ultimaIngesta: date(row[`ultima_ingesta_${tipo}`]),
        ultimaCantidad: Number(row[`ultima_cantidad_${tipo}`] ?? 0),
      } satisfies Ventana,
    ]),
  ) as Record<Tipo, Ventana>;
  return {
    ventanas,
    sialRequestsPorSegundo: Number(row.sial_requests_por_segundo ?? 0),
    sialConcurrencia: Number(row.sial_concurrencia ?? 16),
    actualizadoEn: date(row.actualizado_en) ?? new Date(0),
    actualizadoPor: typeof row.actualizado_por === 'string' ? row.actualizado_por : '',
    sialCredencialesGuardadas: row.sial_usuario != null || row.sial_password_sealed != null,
  };
}

/** Columns of a window, for an update. */
export function ventanaColumns(
  v: Omit<Ventana, 'ultimaIngesta' | 'ultimaCantidad'>,
): Record<string, unknown> {
  return {
    [`${v.tipo}_dia_inicio`]: v.diaInicio,
    [`${v.tipo}_dia_fin`]: v.diaFin,
    [`${v.tipo}_enviar_email`]: v.enviarEmail,
    [`${v.tipo}_activar_teams`]: v.activarTeams,
    [`${v.tipo}_activar_moodle`]: v.activarMoodle,
  };
}

/** Updates columns of the configuration row. */
export async function updateConfiguracion(knex: Knex, columns: Record<string, unknown>): Promise<void> {
  if (Object.keys(columns).length === 0) return;
  await table(knex).where({ id: 1 }).update(columns);
}

/** Stores the checkpoint (and the received count of a full list) of a successful periodic run. */
export async function saveCheckpoint(
  knex: Knex,
  tipo: Tipo,
  checkpoint: Date | undefined,
  cantidadCompleta: number | undefined,
): Promise<void> {
  const columns: Record<string, unknown> = { [`ultima_ingesta_${tipo}`]: checkpoint ?? null };
  if (cantidadCompleta !== undefined) columns[`ultima_cantidad_${tipo}`] = cantidadCompleta;
  await updateConfiguracion(knex, columns);
}

/** Forgets the checkpoints of the given tipos. */
export async function resetCheckpoints(
  knex: Knex,
  tipos: readonly Tipo[],
  by: string,
  now: Date,
): Promise<void> {
  const columns: Record<string, unknown> = { actualizado_en: now, actualizado_por: by };
  for (const tipo of tipos) columns[`ultima_ingesta_${tipo}`] = null;
  await updateConfiguracion(knex, columns);
}
