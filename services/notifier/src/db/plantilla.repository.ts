/** Stored templates and their versions (`notify.plantilla`, `notify.plantilla_version`). */
import type { Knex } from '@mikro-orm/postgresql';
import { PermanentError } from '@lucy/platform';
import type { TipoEmailConocido } from '../domain/index.js';
import { tipoFromDb, tipoToDb } from './tipo.js';

/** The current template of a kind. */
export interface PlantillaGuardada {
  tipo: TipoEmailConocido;
  version: number;
  asunto: string;
  cuerpo: string;
  cuerpoTexto: string;
  actualizadaEn: Date;
  actualizadaPor: string;
}

/** One version of a template. */
export interface VersionGuardada {
  tipo: TipoEmailConocido;
  version: number;
  asunto: string;
  cuerpo: string;
  cuerpoTexto: string;
  creadaEn: Date;
  creadaPor: string;
  origen: string;
}

const S = 'notify';
const text = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(text(v)));

function toPlantilla(row: Record<string, unknown>): PlantillaGuardada {
  return {
    tipo: tipoFromDb(text(row.tipo)) as TipoEmailConocido,
    version: Number(row.version),
    asunto: text(row.asunto),
    cuerpo: text(row.cuerpo),
    cuerpoTexto: text(row.cuerpo_texto),
    actualizadaEn: date(row.actualizada_en),
    actualizadaPor: text(row.actualizada_por),
  };
}

function toVersion(row: Record<string, unknown>): VersionGuardada {
  return {
    tipo: tipoFromDb(text(row.tipo)) as TipoEmailConocido,
    version: Number(row.version),
    asunto: text(row.asunto),
    cuerpo: text(row.cuerpo),
    cuerpoTexto: text(row.cuerpo_texto),
    creadaEn: date(row.creada_en),
    creadaPor: text(row.creada_por),
    origen: text(row.origen),
  };
}

/** Every stored template. */
export async function listPlantillas(knex: Knex): Promise<PlantillaGuardada[]> {
  const rows = (await knex.withSchema(S).table('plantilla').select('*')) as Record<string, unknown>[];
  return rows.map(toPlantilla);
}

/** The stored template of a kind (undefined when the migration's seed row was removed). */
export async function loadPlantilla(
  knex: Knex,
  tipo: TipoEmailConocido,
): Promise<PlantillaGuardada | undefined> {
  const row = (await knex
    .withSchema(S)
    .table('plantilla')
    .where({ tipo: tipoToDb(tipo) })
    .first()) as Record<string, unknown> | undefined;
  return row ? toPlantilla(row) : undefined;
}

/** Versions of a kind, newest first. */
export async function listVersiones(knex: Knex, tipo: TipoEmailConocido): Promise<VersionGuardada[]> {
  const rows = (await knex
    .withSchema(S)
    .table('plantilla_version')
    .where({ tipo: tipoToDb(tipo) })
    .orderBy('version', 'desc')) as Record<string, unknown>[];
  return rows.map(toVersion);
}

/** One version of a kind. */
export async function loadVersion(
  knex: Knex,
  tipo: TipoEmailConocido,
  version: number,
): Promise<VersionGuardada | undefined> {
  const row = (await knex
    .withSchema(S)
    .table('plantilla_version')
    .where({ tipo: tipoToDb(tipo), version })
    .first()) as Record<string, unknown> | undefined;
  return row ? toVersion(row) : undefined;
}

/** What a save stores. */
export interface NuevaVersion {
  tipo: TipoEmailConocido;
  asunto: string;
  cuerpo: string;
  cuerpoTexto: string;
  por: string;
  origen: string;
  ahora: Date;
  /** When set, the save is refused unless it is still the current version (two editors at once). */
  versionBase?: number | undefined;
}

/**
 * Stores a new version and makes it current, in one transaction; the current row is locked so that two saves
 * at once get consecutive versions.
 * @throws PermanentError (Spanish) when `versionBase` is no longer current.
 */
export async function guardarVersion(knex: Knex, nueva: NuevaVersion): Promise<PlantillaGuardada> {
  return knex.transaction(async (trx) => {
    const tipo = tipoToDb(nueva.tipo);
    const current = (await trx.withSchema(S).table('plantilla').where({ tipo }).forUpdate().first()) as
      Record<string, unknown> | undefined;
    const actual = current ? Number(current.version) : 0;
    if (nueva.versionBase && nueva.versionBase !== actual) {
      throw new PermanentError(
        `La plantilla cambió mientras la editaba: usted partió de la versión ${nueva.versionBase} y la actual es la ${actual} (guardada por ${text(current?.actualizada_por) || '—'}). Vuelva a abrirla y aplique sus cambios.`,
        { code: 'PLANTILLA_DESACTUALIZADA' },
      );
    }
    const version = actual + 1;
    const content = { asunto: nueva.asunto, cuerpo: nueva.cuerpo, cuerpo_texto: nueva.cuerpoTexto };
    await trx
      .withSchema(S)
      .table('plantilla_version')
      .insert({
        tipo,
        version,
        ...content,
        creada_en: nueva.ahora,
        creada_por: nueva.por,
        origen: nueva.origen,
      });
    const row = { tipo, version, ...content, actualizada_en: nueva.ahora, actualizada_por: nueva.por };
    const [saved] = (await trx
      .withSchema(S)
      .table('plantilla')
      .insert(row)
      .onConflict('tipo')
      .merge()
      .returning('*')) as Record<string, unknown>[];
    return toPlantilla(saved!);
  });
}

/** A short-lived cache of the current templates, shared by the e-mail worker and the RPC that edits them. */
export interface PlantillaCache {
  get(tipo: TipoEmailConocido): Promise<PlantillaGuardada | undefined>;
  /** Drops a kind after this process saved a new version of it. */
  forget(tipo: TipoEmailConocido): void;
}

/**
 * Creates the cache: every e-mail used to read its template (one query per e-mail); now a kind is read at most once
 * per `ttlMs` (default 2,000 ms). An edit through this process is seen at once; an edit through another replica
 * within `ttlMs`.
 */
export function createPlantillaCache(
  knex: Knex,
  options: { ttlMs?: number; now?: () => number } = {},
): PlantillaCache {
  const ttlMs = options.ttlMs ?? 2000;
  const now = options.now ?? Date.now;
  const entries = new Map<TipoEmailConocido, { at: number; value: Promise<PlantillaGuardada | undefined> }>();
  return {
    get(tipo) {
      const hit = entries.get(tipo);
      if (hit && now() - hit.at < ttlMs) return hit.value;
      const value = loadPlantilla(knex, tipo);
      const entry = { at: now(), value };
      entries.set(tipo, entry);
      // A failed read is not kept: the next e-mail asks again.
      value.catch(() => {
        if (entries.get(tipo) === entry) entries.delete(tipo);
      });
      return value;
    },
    forget(tipo) {
      entries.delete(tipo);
    },
  };
}
