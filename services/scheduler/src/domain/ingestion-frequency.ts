/**
 * The spec's best practice for periodic ingestions ("Mejores Prácticas — Tareas Periódicas"): "No más de 1 vez
 * cada 30 minutos para evitar sobrecarga". Saving an ingestion scheduled more often is allowed, with a warning.
 */
import { intervalMs } from './interval.schedule.js';
import { nextScheduleFire, type Schedule } from './schedule.model.js';

/** Shortest gap between two runs of an ingestion that the best practice accepts: 30 minutes. */
export const INGESTION_MIN_GAP_MS = 30 * 60_000;

/** Fires of a crontab or solar schedule looked at, at most, to find its shortest gap (8 days of them). */
const MAX_FIRES = 4000;
const HORIZON_MS = 8 * 24 * 3_600_000;

/**
 * The shortest time between two consecutive runs of `schedule` from `from` on (a week and a day of crontab or
 * solar runs, at most {@link MAX_FIRES}); null for a clocked schedule or one that fires at most once.
 */
export function shortestGapMs(schedule: Schedule, from: Date): number | null {
  if (schedule.kind === 'clocked') return null;
  if (schedule.kind === 'interval') return intervalMs(schedule);
  let shortest: number | null = null;
  let previous = nextScheduleFire(schedule, from);
  if (previous === null) return null;
  const end = previous.getTime() + HORIZON_MS;
  for (let i = 0; i < MAX_FIRES; i++) {
    const next = nextScheduleFire(schedule, previous);
    if (next === null || next.getTime() > end) break;
    const gap = next.getTime() - previous.getTime();
    if (shortest === null || gap < shortest) shortest = gap;
    if (shortest < INGESTION_MIN_GAP_MS && i > 64) break;
    previous = next;
  }
  return shortest;
}

function gapText(ms: number): string {
  if (ms < 60_000) {
    const s = Math.round(ms / 1000);
    return s === 1 ? '1 segundo' : `${s} segundos`;
  }
  const m = Math.round(ms / 60_000);
  return m === 1 ? '1 minuto' : `${m} minutos`;
}

/**
 * The warning (es-AR) for an ingestion task `name` on `schedule` when it runs more often than once every 30
 * minutes, else null.
 */
export function ingestionFrequencyWarning(name: string, schedule: Schedule, now: Date): string | null {
  const gap = shortestGapMs(schedule, now);
  if (gap === null || gap >= INGESTION_MIN_GAP_MS) return null;
  return (
    `«${name}» ejecuta una ingesta cada ${gapText(gap)}, más de una vez cada 30 minutos: la buena práctica es ` +
    'no más de 1 vez cada 30 minutos para evitar sobrecarga de SIAL'
  );
}
