/** @lucy/notifier: e-mail templates and the SMTP mailer (the service around them comes next). */
export { loadSmtpConfig, smtpEnvSchema, smtpEnvShape, type SmtpConfig } from './config.js';
export * from './adapters/index.js';
export * from './domain/index.js';
