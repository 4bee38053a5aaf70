/**
 * The ingestion window of each tipo (Configuración `<tipo>_dia_inicio`, `<tipo>_dia_fin`): no start date → the
 * ingestion does not run; now outside [inicio, fin] (both inclusive) → it is skipped; an empty fin means no end.
 * The schedule decides how often a run is attempted; the window decides whether it does anything.
 */
import { DEFAULT_TIME_ZONE, formatLocalDateTime } from './local-time.js';
import type { Tipo } from './tipo.js';

/** The configured window of one tipo. */
export interface WindowConfig {
  readonly tipo: Tipo;
  /** `<tipo>_dia_inicio`; empty = do not run. */
  readonly inicio: Date | null | undefined;
  /** `<tipo>_dia_fin`; empty = no end. */
  readonly fin: Date | null | undefined;
}

/** Why a run is skipped. */
export type WindowSkipCode = 'sin_inicio' | 'ventana_invalida' | 'antes_de_inicio' | 'despues_de_fin';

/** Whether a run proceeds; when not, a Spanish reason for the skipped Tarea. */
export type WindowDecision =
  { readonly run: true } | { readonly run: false; readonly code: WindowSkipCode; readonly reason: string };

/** An invalid configuration field, with a Spanish message (same shape as the platform's FieldError). */
export interface WindowFieldError {
  readonly field: string;
  readonly message: string;
}

const isValidDate = (d: Date | null | undefined): d is Date =>
  d instanceof Date && !Number.isNaN(d.getTime());
const isSet = (d: Date | null | undefined): d is Date => d !== null && d !== undefined;

/**
 * Validates a window as staff enter it: dates must be valid and fin, when set, after inicio.
 * Returns one error per offending field (empty when valid).
 */
export function validateWindow(config: WindowConfig): WindowFieldError[] {
  const { tipo, inicio, fin } = config;
  const errors: WindowFieldError[] = [];
  if (isSet(inicio) && !isValidDate(inicio)) {
    errors.push({ field: `${tipo}_dia_inicio`, message: 'La fecha de inicio no es una fecha válida.' });
  }
  if (isSet(fin) && !isValidDate(fin)) {
    errors.push({ field: `${tipo}_dia_fin`, message: 'La fecha de fin no es una fecha válida.' });
  }
  if (isValidDate(inicio) && isValidDate(fin) && fin.getTime() <= inicio.getTime()) {
    errors.push({
      field: `${tipo}_dia_fin`,
      message: `La fecha de fin debe ser posterior a la fecha de inicio (${tipo}_dia_inicio).`,
    });
  }
  return errors;
}

/**
 * Decides whether an ingestion of `config.tipo` runs at `now`. Times in reasons are shown in `timeZone`
 * (default America/Argentina/Cordoba) as `YYYY-MM-DD HH:MM`.
 */
export function evaluateWindow(
  config: WindowConfig,
  now: Date,
  options: { timeZone?: string } = {},
): WindowDecision {
  const timeZone = options.timeZone ?? DEFAULT_TIME_ZONE;
  const { tipo, inicio, fin } = config;
  if (!isSet(inicio)) {
    return {
      run: false,
      code: 'sin_inicio',
      reason: `No hay fecha de inicio configurada para ${tipo} (${tipo}_dia_inicio): la ingesta no se ejecuta.`,
    };
  }
  const errors = validateWindow(config);
  if (errors.length > 0) {
    return {
      run: false,
      code: 'ventana_invalida',
      reason: `La ventana configurada para ${tipo} es inválida: ${errors
        .map((e) => `${e.field}: ${e.message}`)
        .join(' ')} La ingesta no se ejecuta hasta corregir la Configuración.`,
    };
  }
  const show = (d: Date): string => formatLocalDateTime(d, timeZone);
  const ventana = isSet(fin)
    ? `ventana ${show(inicio)} – ${show(fin)}`
    : `ventana desde ${show(inicio)}, sin fecha de fin`;
  const context = `(ahora ${show(now)}, ${ventana})`;
  if (now.getTime() < inicio.getTime()) {
    return {
      run: false,
      code: 'antes_de_inicio',
      reason: `Fuera de la ventana configurada: la ingesta de ${tipo} todavía no comenzó ${context}.`,
    };
  }
  if (isSet(fin) && now.getTime() > fin.getTime()) {
    return {
      run: false,
      code: 'despues_de_fin',
      reason: `Fuera de la ventana configurada: la ventana de ingesta de ${tipo} ya terminó ${context}.`,
    };
  }
  return { run: true };
}
