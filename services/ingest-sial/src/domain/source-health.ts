/**
 * Sanity checks on what SIAL returned. An empty or much smaller full list usually means SIAL is having a bad day,
 * not that students vanished; the run still proceeds (ingestion never deletes), but staff are warned.
 */
import type { Tipo } from './tipo.js';

/** Input of {@link assessSourceHealth}. */
export interface SourceHealthInput {
  readonly tipo: Tipo;
  /** Records in this response. */
  readonly received: number;
  /** Records of the last successful full list of this tipo; undefined when there is none yet. */
  readonly lastGoodCount?: number | undefined;
  /** Fraction of `lastGoodCount` below which a full list is suspicious; default 0.5. */
  readonly threshold?: number;
  /**
   * Whether this was a full list or an incremental window. Counts are only compared for full lists: an
   * incremental window is small or empty by nature. Default `completo`.
   */
  readonly modo?: 'completo' | 'incremental';
  /** Records rejected as invalid in this response; most of them invalid hints at a changed format. Default 0. */
  readonly invalid?: number;
}

/** The verdict: `suspicious` when any warning was raised. */
export interface SourceHealth {
  readonly suspicious: boolean;
  /** Spanish, for the Tarea's advertencias. */
  readonly warnings: readonly string[];
}

const percent = (fraction: number): string => `${Math.round(fraction * 100)} %`;

/** Warns about an empty or unusually small full list, and about a response whose records are mostly invalid. */
export function assessSourceHealth(input: SourceHealthInput): SourceHealth {
  const { tipo, received, lastGoodCount } = input;
  const threshold = input.threshold ?? 0.5;
  const modo = input.modo ?? 'completo';
  const invalid = input.invalid ?? 0;
  const warnings: string[] = [];
  if (modo === 'completo') {
    if (received === 0) {
      warnings.push(
        lastGoodCount
          ? `SIAL devolvió la lista de ${tipo} vacía, pero la última carga completa trajo ${lastGoodCount} registros. Verifique el servicio de SIAL; no se modificó ningún alumno existente.`
          : `SIAL devolvió la lista de ${tipo} vacía.`,
      );
    } else if (lastGoodCount && received < lastGoodCount * threshold) {
      warnings.push(
        `SIAL devolvió ${received} registros de ${tipo}, muchos menos que los ${lastGoodCount} de la última carga completa (menos del ${percent(threshold)}). Verifique el servicio de SIAL.`,
      );
    }
  }
  if (received > 0 && invalid * 2 > received) {
    warnings.push(
      `${invalid} de ${received} registros de ${tipo} son inválidos: es posible que SIAL haya cambiado el formato de la respuesta.`,
    );
  }
  return { suspicious: warnings.length > 0, warnings };
}
