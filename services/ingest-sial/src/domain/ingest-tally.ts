/**
 * Counting an ingestion run into the Tarea's `detalles`. Keys (Spanish, stable — the admin and other systems read
 * them):
 * - `recibidos`: records in SIAL's list response;
 * - `creados`, `actualizados`, `sin_cambios`: records by merge outcome; `cantidad_entidades` of the Tarea is
 *   `creados + actualizados`;
 * - `descartados`: records not saved because of an error (invalid record, failed save…);
 * - `datos_personales_consultados`: personal-data requests made (the rest were skipped by the fingerprint rule);
 * - `errores`: problems per category (`sial`, `datos_invalidos`, `guardado`, `otros`); a problem, not a record: a
 *   record saved without an invalid fecha_inscri counts one `datos_invalidos` and is also `creados`/`actualizados`;
 * - `total_errores`: sum of `errores`;
 * - `errores_detalle`: the first 100 problems, `{ categoria, registro, mensaje, campo? }`;
 * - `errores_omitidos`: problems beyond those 100;
 * - `advertencias`: run-level warnings (empty or suspicious SIAL response, duplicates…).
 */
import type { MergeKind } from './alumno-merge.js';
import { ERROR_CATEGORIAS, type ErrorCategoria, type RecordError } from './record-error.js';

/** The result of an ingestion run, as stored in Tarea.detalles (see the module comment for each key). */
export interface IngestDetalles {
  recibidos: number;
  creados: number;
  actualizados: number;
  sin_cambios: number;
  descartados: number;
  datos_personales_consultados: number;
  errores: Record<ErrorCategoria, number>;
  total_errores: number;
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
    creados: 0,
    actualizados: 0,
    sin_cambios: 0,
    descartados: 0,
    datos_personales_consultados: 0,
    errores: { sial: 0, datos_invalidos: 0, guardado: 0, otros: 0 },
    total_errores: 0,
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
          d.creados++;
          break;
        case 'update':
          d.actualizados++;
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
      d.errores[error.categoria]++;
      d.total_errores++;
      if (d.errores_detalle.length < maxDetalle) d.errores_detalle.push(error);
      else d.errores_omitidos++;
    },
    warn(message) {
      if (!d.advertencias.includes(message)) d.advertencias.push(message);
    },
    toDetalles() {
      return {
        ...d,
        errores: { ...d.errores },
        errores_detalle: d.errores_detalle.map((e) => ({ ...e })),
        advertencias: [...d.advertencias],
      };
    },
  };
}

/** `cantidad_entidades` of the Tarea: alumnos created or updated. */
export function cantidadEntidades(detalles: Pick<IngestDetalles, 'creados' | 'actualizados'>): number {
  return detalles.creados + detalles.actualizados;
}

/** A one-line Spanish summary for the Log, e.g. "Ingesta de preinscriptos: 3 creados, 5 actualizados, 1 error". */
export function summarizeIngest(tipo: string, detalles: IngestDetalles): string {
  const errores = detalles.total_errores === 1 ? '1 error' : `${detalles.total_errores} errores`;
  return `Ingesta de ${tipo}: ${detalles.creados} creados, ${detalles.actualizados} actualizados, ${detalles.sin_cambios} sin cambios, ${errores}`;
}

/** Every category with zero problems, for callers that build detalles by hand. */
export const EMPTY_ERRORES: Readonly<Record<ErrorCategoria, number>> = Object.freeze(
  Object.fromEntries(ERROR_CATEGORIAS.map((c) => [c, 0])) as Record<ErrorCategoria, number>,
);
