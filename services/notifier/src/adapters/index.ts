/** Outbound adapters of the notifier: the SMTP mailer, its error classification and the other services. */
export {
  createSmtpMailer,
  deploymentCredentials,
  smtpTransportOptions,
  type Mailer,
  type OutgoingEmail,
  type SendResult,
  type SmtpCredentials,
  type SmtpMailerOptions,
} from './smtp.mailer.js';
export { classifySmtpError, type SmtpErrorCode } from './smtp.errors.js';
export { createSendRateLimiter, type RateClock, type SendRateLimiter } from './send-rate.js';
export {
  createDirectory,
  type AlumnoContacto,
  type Credencial,
  type Directory,
  type DirectoryOptions,
} from './directory.clients.js';
