// The seed's best practice for periodic ingestions: "No más de 1 vez cada 30 minutos para evitar sobrecarga".

/** The shortest gap the seed recommends between two runs of an ingestion, in minutes. */
export const MIN_INGEST_GAP_MINUTES = 30;

/** The spec's warning, shown beside the form when an ingestion would run more often. */
export const FRECUENCIA_AVISO =
  'Esta ingesta se ejecutaría más de una vez cada 30 minutos. Mejores prácticas: «No más de 1 vez cada 30 ' +
  'minutos para evitar sobrecarga» de SIAL; considere un intervalo mayor o un horario de baja carga (madrugada).';

/** Whether a registered task is one of the periodic SIAL ingestions. */
export function isIngestion(task: string): boolean {
  return /^alumnos\.tasks\.ingestar_/.test(task.trim());
}

/** The shortest gap between consecutive instants, in milliseconds; null with fewer than two. */
export function shortestGapMs(instants: readonly string[]): number | null {
  const ms = instants.map((i) => Date.parse(i)).sort((a, b) => a - b);
  let best: number | null = null;
  for (let i = 1; i < ms.length; i += 1) {
    const gap = ms[i]! - ms[i - 1]!;
    if (best === null || gap < best) best = gap;
  }
  return best;
}

/**
 * The warning for `task` fired at `instants` (upcoming runs, in any order), or '' when it is not an ingestion or
 * its runs are at least 30 minutes apart (every 30 minutes exactly is allowed).
 */
export function frequencyWarning(task: string, instants: readonly string[]): string {
  if (!isIngestion(task)) return '';
  const gap = shortestGapMs(instants);
  return gap !== null && gap < MIN_INGEST_GAP_MINUTES * 60_000 ? FRECUENCIA_AVISO : '';
}
