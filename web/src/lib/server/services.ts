import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import {
  AlumnoService,
  IdentityService,
  IngestService,
  LogService,
  NotifierService,
  SchedulerService,
  TaskService,
} from '@lucy/proto';
import type { ServiceName, WebConfig } from './config.js';

/** The outcome of a call: the value, or the Spanish reason the service could not answer. */
export type Outcome<T> =
  { ok: true; value: T } | { ok: false; service: ServiceName; message: string; notFound?: boolean };

/** Spanish text for a failed call, naming the service; never the token or a stack. */
export function describeFailure(service: ServiceName, err: unknown): string {
  const e = ConnectError.from(err);
  switch (e.code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Canceled:
    case Code.Unknown:
      return `El servicio ${service} no responde. El resto de la página funciona; reintente en unos segundos.`;
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return `El servicio ${service} rechazó las credenciales del admin (revise RPC_TOKEN).`;
    case Code.NotFound:
      return e.rawMessage || 'No encontrado.';
    case Code.InvalidArgument:
    case Code.FailedPrecondition:
    case Code.AlreadyExists:
    case Code.OutOfRange:
      return e.rawMessage;
    default:
      return `El servicio ${service} devolvió un error: ${e.rawMessage}`;
  }
}

/** Clients of the services, with the service token; only server code imports this module. */
export function createServices(
  config: Pick<WebConfig, 'services' | 'rpcToken'> & Partial<Pick<WebConfig, 'identityAdminToken'>>,
) {
  const auth: Interceptor = (next) => async (req) => {
    req.header.set('authorization', `Bearer ${config.rpcToken}`);
    return next(req);
  };
  // identity-teams' admin-only calls (RevealPassword, held deletions) also carry its admin token; the admin
  // checks the staff member's role before it uses this client.
  const adminAuth: Interceptor = (next) => async (req) => {
    if (config.identityAdminToken) req.header.set('lucy-admin-token', config.identityAdminToken);
    return next(req);
  };
  const client = <S extends DescService>(
    service: S,
    name: ServiceName,
    extra: Interceptor[] = [],
  ): Client<S> =>
    createClient(
      service,
      createConnectTransport({
        baseUrl: config.services[name],
        httpVersion: '2',
        interceptors: [auth, ...extra],
        defaultTimeoutMs: 8_000,
      }),
    );
  const tasks = client(TaskService, 'task-tracker');
  const logs = client(LogService, 'task-tracker');
  const scheduler = client(SchedulerService, 'scheduler');
  const ingest = client(IngestService, 'ingest-sial');
  const alumnos = client(AlumnoService, 'ingest-sial');
  const identity = client(IdentityService, 'identity-teams');
  const identityAdmin = client(IdentityService, 'identity-teams', [adminAuth]);
  const notifier = client(NotifierService, 'notifier');

  /** Runs a call; a failure becomes an Outcome naming the service instead of an exception. */
  async function call<T>(service: ServiceName, fn: () => Promise<T>): Promise<Outcome<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (err) {
      return {
        ok: false,
        service,
        message: describeFailure(service, err),
        notFound: ConnectError.from(err).code === Code.NotFound,
      };
    }
  }

  /** /readyz of every service, in parallel, with a short timeout. */
  async function health(): Promise<{ service: ServiceName; ok: boolean; detail: string }[]> {
    return Promise.all(
      (Object.keys(config.services) as ServiceName[]).map(async (service) => {
        try {
          const res = await fetch(`${config.services[service]}/readyz`, {
            signal: AbortSignal.timeout(2_000),
          });
          return { service, ok: res.ok, detail: res.ok ? 'Listo' : `No listo (HTTP ${res.status})` };
        } catch {
          return { service, ok: false, detail: 'No responde' };
        }
      }),
    );
  }

  return { tasks, logs, scheduler, ingest, notifier, alumnos, identity, identityAdmin, call, health };
}

export type Services = ReturnType<typeof createServices>;
