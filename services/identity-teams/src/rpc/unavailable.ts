import { Code, ConnectError } from '@connectrpc/connect';
import { TransientError } from '@lucy/platform';

/** Ingest-sial unreachable: Unavailable, so the caller may retry, with the cause in Spanish. */
export const unavailable = (err: unknown): unknown =>
  err instanceof TransientError ? new ConnectError(err.message, Code.Unavailable) : err;
