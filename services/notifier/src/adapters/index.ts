/** Outbound adapters of the notifier: the SMTP mailer and its error classification. */
export {
  createSmtpMailer,
  smtpTransportOptions,
  type Mailer,
  type OutgoingEmail,
  type SendResult,
  type SmtpMailerOptions,
} from './smtp.mailer.js';
export { classifySmtpError, type SmtpErrorCode } from './smtp.errors.js';
