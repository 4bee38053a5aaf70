import { Counter, Gauge, Histogram, metricsRegistry } from '@lucy/platform';

/**
 * task-tracker's Prometheus metrics, served on the RPC port's `/metrics` with the platform's. The `consumer` label
 * is the durable name of a projection consumer (`task-tracker_commands`, `task-tracker_task-events`,
 * `task-tracker_logs`, `task-tracker_alumnos`). Alert when the projection lag grows or `retried` keeps rising
 * (the database is unreachable or a batch keeps failing).
 */
export const trackerMetrics = {
  messages: new Counter({
    name: 'lucy_tracker_messages_total',
    help: "Messages settled by the projection consumers, by outcome: projected, ignored (nothing to project), undecodable (dead-lettered when parsed), poison (dead-lettered after failing alone), retried (nak'ed with backoff after a failed batch).",
    labelNames: ['consumer', 'outcome'] as const,
    registers: [metricsRegistry],
  }),
  batchSeconds: new Histogram({
    name: 'lucy_tracker_batch_seconds',
    help: 'Time to apply one projection batch durably (one transaction), for batches that committed.',
    labelNames: ['consumer'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 20],
    registers: [metricsRegistry],
  }),
  batchFailures: new Counter({
    name: 'lucy_tracker_batch_failures_total',
    help: 'Projection batches (or single messages, once a batch is split) whose apply failed or timed out.',
    labelNames: ['consumer'] as const,
    registers: [metricsRegistry],
  }),
  projectionLag: new Histogram({
    name: 'lucy_tracker_projection_lag_seconds',
    help: "Time from JetStream's timestamp of the newest message of a committed batch to its acknowledgement.",
    labelNames: ['consumer'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300, 1800],
    registers: [metricsRegistry],
  }),
  tareasEnded: new Counter({
    name: 'lucy_tracker_tareas_ended_total',
    help: 'Tareas (tasks, whatever their attempts) that reached a final estado, by tipo and estado (completed, failed, skipped, cancelled).',
    labelNames: ['tipo', 'estado'] as const,
    registers: [metricsRegistry],
  }),
  attemptsEnded: new Counter({
    name: 'lucy_tracker_attempts_ended_total',
    help: 'Attempts of tasks that ended, by tipo and outcome: succeeded, retried (failed, another attempt follows), failed (the last), skipped, stuck.',
    labelNames: ['tipo', 'outcome'] as const,
    registers: [metricsRegistry],
  }),
  watchers: new Gauge({
    name: 'lucy_tracker_watchers',
    help: 'Open WatchTareas streams on this replica.',
    registers: [metricsRegistry],
  }),
  stuckMarked: new Counter({
    name: 'lucy_tracker_stuck_marked_total',
    help: 'Running Tareas the stuck sweep of this replica marked failed for lack of activity.',
    registers: [metricsRegistry],
  }),
  purged: new Counter({
    name: 'lucy_tracker_purged_total',
    help: 'Rows deleted by the purge task (purgar_tareas_antiguas), by kind: tareas, logs.',
    labelNames: ['kind'] as const,
    registers: [metricsRegistry],
  }),
};
