import type { DescService } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { createRpcClient } from '@lucy/platform';

/** Default RPC ports of the services (each overridable with LUCY_<SERVICE>_URL). */
export const SERVICE_URLS = {
  tracker: process.env.LUCY_TRACKER_URL ?? 'http://127.0.0.1:7101',
  scheduler: process.env.LUCY_SCHEDULER_URL ?? 'http://127.0.0.1:7102',
  ingest: process.env.LUCY_INGEST_URL ?? 'http://127.0.0.1:7103',
  identity: process.env.LUCY_IDENTITY_URL ?? 'http://127.0.0.1:7104',
  notifier: process.env.LUCY_NOTIFIER_URL ?? 'http://127.0.0.1:7105',
} as const;

/** Global options of every command. */
export interface GlobalOptions {
  json?: boolean;
  token?: string;
}

/** A client for a service, with the token from --token, LUCY_TOKEN or RPC_TOKEN. */
export function clientFor<S extends DescService>(
  service: S,
  which: keyof typeof SERVICE_URLS,
  opts: GlobalOptions,
): Client<S> {
  const token = opts.token ?? process.env.LUCY_TOKEN ?? process.env.RPC_TOKEN ?? '';
  if (!token) {
    throw new Error('Falta el token: use --token, o defina LUCY_TOKEN (el RPC_TOKEN de los servicios).');
  }
  return createRpcClient(service, { baseUrl: SERVICE_URLS[which], token });
}
