import type { Knex } from '@mikro-orm/postgresql';
import { uuidv7 } from '@lucy/platform';
import { findStuck, projectBatch } from '../db/tarea.repository.js';
import { STUCK_MESSAGE, type TareaState } from '../domain/projection.js';
import { trackerMetrics } from '../metrics.js';

/** Options of {@link sweepStuck}. */
export interface StuckSweepOptions {
  knex: Knex;
  /** Seconds without start, progress or heartbeat after which a running Tarea counts as stuck. */
  stuckAfterSeconds: number;
  now: Date;
}

const isStuck = (s: TareaState) => s.estado === 'failed' && s.mensajeError === STUCK_MESSAGE;

/**
 * Marks running Tareas without activity for `stuckAfterSeconds` as failed, with a WARNING Log row each, written
 * in the same transaction as the state change (a crash cannot leave one without the other). Safe with several
 * replicas: the rows are locked and the rule (still running, no activity since the cutoff) re-checked inside the
 * transaction, so a Tarea another replica already marked, or one that reported in the meantime, is left alone.
 */
export async function sweepStuck(o: StuckSweepOptions): Promise<TareaState[]> {
  const cutoff = new Date(o.now.getTime() - o.stuckAfterSeconds * 1000);
  const candidates = await findStuck(o.knex, cutoff);
  if (candidates.length === 0) return [];
  const changed = await projectBatch(
    o.knex,
    candidates.map((taskId) => ({ seq: 0, event: { kind: 'stuck' as const, taskId, at: o.now, cutoff } })),
    [],
    {
      now: o.now,
      logsFor: (states) =>
        states.filter(isStuck).map((s) => ({
          id: uuidv7(o.now.getTime()),
          level: 'WARNING',
          module: 'task_tracker',
          message: `${STUCK_MESSAGE}: ${s.taskName || s.id} (intento ${s.rankAttempt})`,
          detalles: {
            task_id: s.id,
            ultima_actividad: (s.lastHeartbeatAt ?? s.startedAt)?.toISOString() ?? null,
            umbral_segundos: o.stuckAfterSeconds,
          },
          alumnoId: s.alumnoId,
          usuario: null,
          taskId: s.id,
          occurredAt: o.now,
        })),
    },
  );
  const stuck = changed.filter(isStuck);
  trackerMetrics.stuckMarked.inc(stuck.length);
  return stuck;
}
