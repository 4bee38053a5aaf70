import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/**
 * The metric classes, re-exported so that a service can define its own metrics on `metricsRegistry` (served on its
 * RPC port's `/metrics`) without depending on prom-client itself. Keep their labels low-cardinality.
 */
export { Counter, Gauge, Histogram } from 'prom-client';

/** One Prometheus registry per process, with Node's default metrics. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/** Messages handled by consumer runners, by consumer and outcome. */
export const consumerMessages = new Counter({
  name: 'lucy_consumer_messages_total',
  help: 'Messages handled by JetStream consumers, by outcome (succeeded, failed, retried, skipped, dead_lettered, cancelled).',
  labelNames: ['consumer', 'outcome'] as const,
  registers: [metricsRegistry],
});

/** Handler duration, by consumer. */
export const consumerDuration = new Histogram({
  name: 'lucy_consumer_handler_seconds',
  help: 'Time spent in a consumer handler.',
  labelNames: ['consumer'] as const,
  buckets: [0.005, 0.02, 0.1, 0.5, 1, 5, 30, 120, 600],
  registers: [metricsRegistry],
});

/** RPC calls, by service, method and code. */
export const rpcCalls = new Counter({
  name: 'lucy_rpc_calls_total',
  help: 'RPC calls served, by service, method and result code.',
  labelNames: ['service', 'method', 'code'] as const,
  registers: [metricsRegistry],
});

/** Durable consumers found missing and re-created, by consumer and where they restarted from. */
export const consumerRecreated = new Counter({
  name: 'lucy_consumer_recreated_total',
  help: 'Durable consumers that were missing and were re-created, by where they restarted (recorded position or new messages only).',
  labelNames: ['consumer', 'from'] as const,
  registers: [metricsRegistry],
});
