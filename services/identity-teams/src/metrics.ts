import { Counter, Histogram, metricsRegistry } from '@lucy/platform';

/**
 * identity-teams' Prometheus metrics, served on the RPC port's `/metrics` with the platform's (consumer outcomes
 * per durable, RPC calls). Alert on `lucy_identity_graph_write_wait_seconds` growing (the shared write budget is
 * exhausted) and on deletions `held`.
 */
export const identityMetrics = {
  steps: new Counter({
    name: 'lucy_identity_steps_total',
    help: 'Steps of identity tasks completed, by paso (usuario_graph, licencia, moodle, password, email, eliminar_graph, eliminar_moodle).',
    labelNames: ['paso'] as const,
    registers: [metricsRegistry],
  }),
  graphUsers: new Counter({
    name: 'lucy_identity_graph_users_total',
    help: 'Microsoft 365 users by result: created, or adopted (existing account of the same person).',
    labelNames: ['result'] as const,
    registers: [metricsRegistry],
  }),
  emails: new Counter({
    name: 'lucy_identity_email_requests_total',
    help: 'Credential e-mails requested from the notifier (enviar_email commands published).',
    registers: [metricsRegistry],
  }),
  deletions: new Counter({
    name: 'lucy_identity_deletions_total',
    help: 'External-account deletions by result: deleted, refused (outside the safe prefix), held (mass-deletion hold).',
    labelNames: ['result'] as const,
    registers: [metricsRegistry],
  }),
  writeWait: new Histogram({
    name: 'lucy_identity_graph_write_wait_seconds',
    help: 'Waits for a token of the shared Graph write bucket.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
    registers: [metricsRegistry],
  }),
  reveals: new Counter({
    name: 'lucy_identity_credential_openings_total',
    help: 'Credentials opened, by accion: revelar (staff, audited) or resolver (notifier, audited).',
    labelNames: ['accion'] as const,
    registers: [metricsRegistry],
  }),
};
