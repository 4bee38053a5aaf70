import { Counter, Histogram, metricsRegistry } from '@lucy/platform';

/**
 * The notifier's Prometheus metrics, served on `/metrics` (the metrics port) with the platform's. Alert on
 * `result="failed"` growing (addresses or relay configuration) and on `result="resent_uncertain"` (a replica died
 * between the relay's acceptance and the delivery record: the alumno may have two copies with one Message-ID).
 */
export const notifyMetrics = {
  emails: new Counter({
    name: 'lucy_notify_emails_total',
    help: 'E-mail commands by tipo and result: sent, failed, retried (transient), already_sent (redelivery of a sent e-mail, nothing sent), resent_uncertain.',
    labelNames: ['tipo', 'result'] as const,
    registers: [metricsRegistry],
  }),
  smtpSeconds: new Histogram({
    name: 'lucy_notify_smtp_send_seconds',
    help: 'Duration of one SMTP send (rate-limit wait included).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [metricsRegistry],
  }),
};
