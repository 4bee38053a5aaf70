import { Counter, Gauge, Histogram } from 'prom-client';
import { metricsRegistry } from '@lucy/platform';

/**
 * The scheduler's Prometheus metrics, served on the RPC port's `/metrics` with the platform's. With several
 * replicas, exactly one reports `lucy_scheduler_leader 1`; alert when the sum is not 1 or when the fire lag grows.
 */
export const schedulerMetrics = {
  leader: new Gauge({
    name: 'lucy_scheduler_leader',
    help: '1 while this replica holds the leader lease (and fires), else 0.',
    registers: [metricsRegistry],
  }),
  enabledTasks: new Gauge({
    name: 'lucy_scheduler_enabled_tasks',
    help: 'Enabled periodic tasks, as last read from the database.',
    registers: [metricsRegistry],
  }),
  slots: new Counter({
    name: 'lucy_scheduler_slots_total',
    help: "Slots handled by the leader, by outcome: fired, already_fired (another leader did), retried, dropped (invalid task or arguments), missed (a dead leader's claim recorded as missed, not republished).",
    labelNames: ['outcome'] as const,
    registers: [metricsRegistry],
  }),
  fireLag: new Histogram({
    name: 'lucy_scheduler_fire_lag_seconds',
    help: "Time from a slot's due time to JetStream's acknowledgement of its command.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 600],
    registers: [metricsRegistry],
  }),
  missedRuns: new Counter({
    name: 'lucy_scheduler_missed_run_decisions_total',
    help: 'Missed-run policy decisions taken on becoming leader, by decision (skipped, capped, coalesced, fired_late).',
    labelNames: ['decision'] as const,
    registers: [metricsRegistry],
  }),
};
