import type { Knex } from '@mikro-orm/postgresql';
import {
  createCommandWorker,
  type Buckets,
  type CommandWorker,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import { PurgarTareasCommandSchema } from '@lucy/proto';
import { purgeOlderThan } from '../db/tarea.repository.js';
import { trackerMetrics } from '../metrics.js';

/** Registered name and subject of the maintenance task. */
export const PURGAR_TAREAS = {
  name: 'mantenimiento.tasks.purgar_tareas_antiguas',
  subject: 'lucy.cmd.tracker.purgar_tareas',
} as const;

/** Options of {@link createPurgarTareasWorker}. */
export interface PurgarTareasWorkerOptions {
  nats: NatsHandles;
  names: Names;
  logger: Logger;
  knex: Knex;
  worker: string;
  cancellations?: Buckets['cancellations'];
  /** Default retention in days when the command says 0. */
  retentionDays: number;
  clock?: () => Date;
}

/**
 * The maintenance worker: deletes Tareas and Logs older than the retention in batches of `batch_size` rows
 * (default 1000), so it never holds long locks, and reports how many it removed.
 */
export function createPurgarTareasWorker(o: PurgarTareasWorkerOptions): CommandWorker {
  const clock = o.clock ?? (() => new Date());
  return createCommandWorker({
    js: o.nats.js,
    jsm: o.nats.jsm,
    names: o.names,
    logger: o.logger,
    durable: 'task-tracker_purgar_tareas',
    subject: PURGAR_TAREAS.subject,
    taskType: PURGAR_TAREAS.name,
    schema: PurgarTareasCommandSchema,
    worker: o.worker,
    ...(o.cancellations ? { cancellations: o.cancellations } : {}),
    concurrency: 1,
    validate: (m) => {
      const problems = [];
      if (m.retentionDays < 0)
        problems.push({
          field: 'retentionDays',
          message: 'La retención debe ser 0 (valor por defecto) o un número positivo de días',
        });
      if (m.batchSize < 0 || m.batchSize > 50_000)
        problems.push({
          field: 'batchSize',
          message: 'El tamaño de lote debe estar entre 0 (por defecto, 1000) y 50000',
        });
      return problems;
    },
    handle: async ({ message, ...ctx }) => {
      const retencionDias = message.retentionDays || o.retentionDays;
      const cutoff = new Date(clock().getTime() - retencionDias * 86_400_000);
      const { tareas, logs } = await purgeOlderThan(o.knex, cutoff, message.batchSize || 1000, () =>
        ctx.working(),
      );
      trackerMetrics.purged.inc({ kind: 'tareas' }, tareas);
      trackerMetrics.purged.inc({ kind: 'logs' }, logs);
      return {
        cantidadEntidades: tareas + logs,
        detalles: {
          tareas_eliminadas: tareas,
          logs_eliminados: logs,
          retencion_dias: retencionDias,
          antes_de: cutoff.toISOString(),
        },
      };
    },
  });
}
