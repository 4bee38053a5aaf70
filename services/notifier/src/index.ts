/** @lucy/notifier: credential e-mails over SMTP, editable templates and delivery records. */
export {
  loadConfig,
  loadSmtpConfig,
  notifierEnvSchema,
  smtpEnvSchema,
  smtpEnvShape,
  type NotifierConfig,
  type SmtpConfig,
} from './config.js';
export { startNotifierService, type NotifierServiceHandle, type NotifierServiceOptions } from './service.js';
export { notifierOrm } from './db/index.js';
export {
  checkMailSettingsChange,
  createMailSettings,
  resealMailSettings,
  SMTP_PASSWORD_AAD,
  type CredentialsOrigin,
  type MailSettings,
} from './settings.js';
export { ENVIAR_EMAIL_SUBJECT, ENVIAR_EMAIL_TASK } from './consumers/enviar-email.consumer.js';
export * from './adapters/index.js';
export * from './domain/index.js';
