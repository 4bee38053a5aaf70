/**
 * Counting an ingestion run into the Tarea's `detalles`. Keys (stable — the admin and other systems read them);
 * `created`, `updated` and `errors` are the spec's own keys (`{created, updated, errors}`, as the original wrote
 * them), the others say more in Spanish:
 * - `recibidos`: records in SIAL's list response;
 * - `created`, `updated`, `sin_cambios`: records by merge outcome; `cantidad_entidades` of the Tarea is
 *   `created + updated`;
 * - `descartados`: records not saved because of an error (invalid record, failed save…);
 * - `datos_personales_consultados`: personal-data requests made (the rest were skipped by the fingerprint rule);
 * - `errores_categorizados`: problems per category (`sial`, `datos_invalidos`, `guardado`, `otros`); a problem,
 *   not a record: a record saved without an invalid fecha_inscri counts one `datos_invalidos` and is also
 *   `created`/`updated`;
 * - `errors`: sum of `errores_categorizados`;
 * - `errores_detalle`: the first 100 problems, `{ categoria, registro, mensaje, campo? }`;
 * - `errores_omitidos`: problems beyond those 100;
 * - `advertencias`: run-level warnings (empty or suspicious SIAL response, duplicates…).
 */
import type { MergeKind } from './alumno-merge.js';
import { ERROR_CATEGORIAS, type ErrorCategoria, type RecordError } from './record-error.js';

/** The result of an ingestion run, as stored in Tarea.detalles (see the module comment for each key). */
export interface IngestDetalles {
  recibidos: number;
  created: number;
  updated: number;
  sin_cambios: number;
  descartados: number;
  datos_personales_consultados: number;
  errores_categorizados: Record<ErrorCategoria, number>;
  errors: number;
  errores_detalle: RecordError[];
  errores_omitidos: number;
  advertencias: string[];
}

/** Accumulates the outcome of a run, record by record. */
export interface IngestTally {
  /** Adds records received from SIAL. */
  received(count: number): void;
  /** Counts one record's merge outcome (`create` → creados, `update` → actualizados, `unchanged` → sin_cambios). */
  outcome(kind: MergeKind): void;
  /** Counts one record not saved (its error is counted separately with {@link IngestTally.error}). */
  discarded(): void;
  /** Counts one personal-data request. */
  personalDataFetched(): void;
  /** Counts one problem; keeps its message while fewer than `maxDetalle` are kept. */
  error(error: RecordError): void;
  /** Adds a run-level warning (duplicates are ignored). */
  warn(message: string): void;
  /** A snapshot, safe to store. */
  toDetalles(): IngestDetalles;
}

/**
 * Creates an empty tally.
 * @param options.maxDetalle problems kept with their message; default 100.
 */
export function createIngestTally(options: { maxDetalle?: number } = {}): IngestTally {
  const maxDetalle = options.maxDetalle ?? 100;
  const d: IngestDetalles = {
    recibidos: 0,
    created: 0,
    updated: 0,
    sin_cambios: 0,
    descartados: 0,
    datos_personales_consultados: 0,
    errores_categorizados: { sial: 0, datos_invalidos: 0, guardado: 0, otros: 0 },
    errors: 0,
    errores_detalle: [],
    errores_omitidos: 0,
    advertencias: [],
  };
  return {
    received(count) {
      d.recibidos += count;
    },
    outcome(kind) {
      switch (kind) {
        case 'create':
          d.created++;
          break;
        case 'update':
          d.updated++;
          break;
        case 'unchanged':
          d.sin_cambios++;
          break;
      }
    },
    discarded() {
      d.descartados++;
    },
    personalDataFetched() {
      d.datos_personales_consultados++;
    },
    error(error) {
      d.errores_categorizados[error.categoria]++;
      d.errors++;
      if (d.errores_detalle.length < maxDetalle) d.errores_detalle.push(error);
      else d.errores_omitidos++;
    },
    warn(message) {
      if (!d.advertencias.includes(message)) d.advertencias.push(message);
    },
    toDetalles() {
      return {
        ...d,
        errores_categorizados: { ...d.errores_categorizados },
        errores_detalle: d.errores_detalle.map((e) => ({ ...e })),
        advertencias: [...d.advertencias],
      };
    },
  };
}

/** `cantidad_entidades` of the Tarea: alumnos created or updated. */
export function cantidadEntidades(detalles: Pick<IngestDetalles, 'created' | 'updated'>): number {
  return detalles.created + detalles.updated;
}

/**
 * A one-line Spanish summary for the Log, e.g. "Ingesta de preinscriptos: 3 creados, 5 actualizados, 1 error".
 * @param titulo what ran; default `Ingesta de <tipo>`.
 */
export function summarizeIngest(
  tipo: string,
  detalles: IngestDetalles,
  titulo = `Ingesta de ${tipo}`,
): string {
  const errores = detalles.errors === 1 ? '1 error' : `${detalles.errors} errores`;
  return `${titulo}: ${detalles.created} creados, ${detalles.updated} actualizados, ${detalles.sin_cambios} sin cambios, ${errores}`;
}

/**
 * Two passes of one Tarea (a reconciliation's incremental window, then its full list) as one detalles: what was
 * done adds up (created, updated, discarded, requests, problems); what describes the list (`recibidos`,
 * `sin_cambios`) is the full pass's.
 */
export function combineDetalles(
  first: IngestDetalles,
  full: IngestDetalles,
  maxDetalle = 100,
): IngestDetalles {
  const errores_categorizados = { ...full.errores_categorizados };
  for (const c of ERROR_CATEGORIAS) errores_categorizados[c] += first.errores_categorizados[c];
  const detalle = [...first.errores_detalle, ...full.errores_detalle];
  return {
    ...full,
    created: first.created + full.created,
    updated: first.updated + full.updated,
    descartados: first.descartados + full.descartados,
    datos_personales_consultados: first.datos_personales_consultados + full.datos_personales_consultados,
    errores_categorizados,
    errors: first.errors + full.errors,
    errores_detalle: detalle.slice(0, maxDetalle),
    errores_omitidos:
      first.errores_omitidos + full.errores_omitidos + Math.max(0, detalle.length - maxDetalle),
    advertencias: [...new Set([...first.advertencias, ...full.advertencias])],
  };
}

/** Every category with zero problems, for callers that build detalles by hand. */
export const EMPTY_ERRORES: Readonly<Record<ErrorCategoria, number>> = Object.freeze(
  Object.fromEntries(ERROR_CATEGORIAS.map((c) => [c, 0])) as Record<ErrorCategoria, number>,
);
