/** @lucy/fake-smtp: the local SMTP sink for development and tests, with a mailpit-like HTTP API. */
export {
  createSmtpSink,
  type SinkAddress,
  type SinkAttachment,
  type SinkLogEntry,
  type SinkMessage,
  type SmtpSink,
  type SmtpSinkOptions,
} from './smtp-sink.js';
export {
  createSmtpSinkApi,
  type SinkMessageSummary,
  type SmtpSinkApi,
  type SmtpSinkApiOptions,
} from './http-api.js';
export {
  FakeInputError,
  type RejectFault,
  type RejectInput,
  type SmtpSinkFaults,
  type SmtpSinkFaultsInput,
} from './faults.js';
