import { Counter, Gauge, Histogram, metricsRegistry } from '@lucy/platform';

/**
 * ingest-sial's Prometheus metrics, served on the RPC port's `/metrics` with the platform's. Runs are the
 * ingestion tasks (the periodic `ingestar_<tipo>` and `ingesta_manual`), not PlanIngesta calls. Alert on
 * `time() - lucy_ingest_last_success_timestamp_seconds` during a tipo's window, and on SIAL requests that are not
 * `200`.
 */
export const ingestMetrics = {
  runs: new Counter({
    name: 'lucy_ingest_runs_total',
    help: 'Ingestion tasks, counted once when they end, by tipo and result: succeeded, failed (no retry follows), skipped (outside the window), dry_run.',
    labelNames: ['tipo', 'result'] as const,
    registers: [metricsRegistry],
  }),
  attempts: new Counter({
    name: 'lucy_ingest_attempts_total',
    help: 'Ingestion attempts (a task retried after a failure makes several), by tipo and result: succeeded, failed, interrupted (handed back at shutdown), dry_run.',
    labelNames: ['tipo', 'result'] as const,
    registers: [metricsRegistry],
  }),
  reconciliationMissed: new Counter({
    name: 'lucy_ingest_reconciliation_missed_total',
    help: 'Records a reconciliation found changed in SIAL (or new) that the incremental runs had not brought, by tipo.',
    labelNames: ['tipo'] as const,
    registers: [metricsRegistry],
  }),
  runSeconds: new Histogram({
    name: 'lucy_ingest_run_seconds',
    help: 'Duration of an ingestion attempt that reached SIAL (succeeded, failed, interrupted or dry run), by tipo.',
    labelNames: ['tipo'] as const,
    buckets: [0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [metricsRegistry],
  }),
  records: new Counter({
    name: 'lucy_ingest_records_total',
    help: 'Records of successful (not dry) runs, by tipo and outcome: creados, actualizados, sin_cambios, descartados.',
    labelNames: ['tipo', 'outcome'] as const,
    registers: [metricsRegistry],
  }),
  errors: new Counter({
    name: 'lucy_ingest_errors_total',
    help: 'Problems of successful (not dry) runs, by tipo and categoria: sial, datos_invalidos, guardado, otros.',
    labelNames: ['tipo', 'categoria'] as const,
    registers: [metricsRegistry],
  }),
  lastSuccess: new Gauge({
    name: 'lucy_ingest_last_success_timestamp_seconds',
    help: 'Unix time at which the last successful (not dry) run of a tipo ended, on this replica.',
    labelNames: ['tipo'] as const,
    registers: [metricsRegistry],
  }),
  sialRequests: new Counter({
    name: 'lucy_ingest_sial_requests_total',
    help: 'HTTP requests to SIAL (each attempt), by endpoint (lista, datospersonales) and status: the HTTP status, or timeout, network, invalid_response (a 2xx with a bad body), aborted, other.',
    labelNames: ['endpoint', 'status'] as const,
    registers: [metricsRegistry],
  }),
  sialRequestSeconds: new Histogram({
    name: 'lucy_ingest_sial_request_seconds',
    help: 'Duration of one HTTP request to SIAL, body included, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [metricsRegistry],
  }),
};
