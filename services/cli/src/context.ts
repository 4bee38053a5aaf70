import type { DescService } from '@bufbuild/protobuf';
import { createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

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
  // The transport of the platform's createRpcClient, built here: importing @lucy/platform would load the
  // services' whole runtime (ORM, NATS, metrics) into every CLI call, and start-up time is the CLI's latency.
  const auth: Interceptor = (next) => async (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  return createClient(
    service,
    createConnectTransport({ baseUrl: SERVICE_URLS[which], httpVersion: '2', interceptors: [auth] }),
  );
}
