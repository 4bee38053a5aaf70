import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { timingSafeEqual } from 'node:crypto';
import { create, type DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;
import {
  BadRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  Health as HealthService,
} from '@lucy/proto';
import { errorMessage, PermanentError, ValidationError } from './errors.js';
import type { Logger } from './logger.js';
import { metricsRegistry, rpcCalls } from './metrics.js';

/** A readiness dependency: throws when not reachable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** Options of {@link startRpcServer}. */
export interface RpcServerOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Interface; default 0.0.0.0. */
  host?: string;
  /** Registers the service implementations. */
  routes: (router: ConnectRouter) => void;
  /** Services served (for grpc.health.v1 per-service status). */
  services: DescService[];
  /** Bearer token every RPC but health must present. */
  token: string;
  readiness: ReadinessCheck[];
  logger: Logger;
  /** Extra HTTP routes (path → handler) served before the 404, e.g. an export download. */
  extraRoutes?: Record<string, NodeHandlerFn>;
}

/** A running RPC server. */
export interface RpcServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Raised by RPC implementations for a missing entity; mapped to NotFound. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/**
 * Translates domain errors into Connect errors once, at the edge: validation → InvalidArgument with a
 * `lucy.common.v1.BadRequest` detail naming each field (Spanish), not found → NotFound, permanent → FailedPrecondition,
 * anything else → Internal with a generic message (the cause is logged, never sent).
 */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    try {
      const res = await next(req);
      rpcCalls.inc({ ...labels, code: 'ok' });
      return res;
    } catch (err) {
      const ce = toConnectError(err, logger, `${labels.service}/${labels.method}`);
      rpcCalls.inc({ ...labels, code: Code[ce.code] });
      throw ce;
    }
  };
}

function toConnectError(err: unknown, logger: Logger, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof ValidationError) {
    return new ConnectError(err.message, Code.InvalidArgument, undefined, [
      {
        desc: BadRequestSchema,
        value: create(BadRequestSchema, {
          violations: err.fields.map((f) => ({ field: f.field, description: f.message })),
        }),
      },
    ]);
  }
  if (err instanceof NotFoundError) return new ConnectError(err.message, Code.NotFound);
  if (err instanceof PermanentError) return new ConnectError(err.message, Code.FailedPrecondition);
  logger.error({ err, method }, 'rpc failed');
  return new ConnectError(
    'Error interno del servicio; el detalle quedó en el registro del servidor.',
    Code.Internal,
    undefined,
    undefined,
    err,
  );
}

/** Requires `Authorization: Bearer <token>` on every RPC except grpc.health.v1. */
export function authInterceptor(token: string): Interceptor {
  const expected = Buffer.from(`Bearer ${token}`);
  return (next) => async (req) => {
    if (req.service.typeName === HealthService.typeName) return next(req);
    const got = Buffer.from(req.header.get('authorization') ?? '');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new ConnectError('Falta el token de acceso o es incorrecto.', Code.Unauthenticated);
    }
    return next(req);
  };
}

async function readinessReport(
  checks: ReadinessCheck[],
): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const results = await Promise.all(
    checks.map(async (c) => {
      try {
        await Promise.race([
          c.check(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timeout after 2 s')), 2000).unref()),
        ]);
        return [c.name, 'ok'] as const;
      } catch (err) {
        return [c.name, errorMessage(err)] as const;
      }
    }),
  );
  return { ok: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
}

/**
 * One port per service serving Connect, gRPC and gRPC-Web over HTTP/2 cleartext (h2c, prior knowledge) and
 * HTTP/1.1 (for gRPC-Web/Connect from browsers, curl and Kubernetes probes), plus grpc.health.v1, `/healthz`
 * (process alive), `/readyz` (every readiness check passes) and `/metrics` (Prometheus).
 */
export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const { logger } = options;
  const serviceNames = options.services.map((s) => s.typeName);
  const status = async (service: string) => {
    if (service !== '' && !serviceNames.includes(service))
      return HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
    return (await readinessReport(options.readiness)).ok
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING;
  };
  const handler = connectNodeAdapter({
    interceptors: [errorInterceptor(logger), authInterceptor(options.token)],
    routes: (router) => {
      router.service(HealthService, {
        async check(req) {
          const s = await status(req.service);
          if (s === HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) {
            throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
          }
          return { status: s };
        },
        async list() {
          const statuses: Record<string, ReturnType<typeof create<typeof HealthCheckResponseSchema>>> = {};
          for (const name of ['', ...serviceNames])
            statuses[name] = create(HealthCheckResponseSchema, { status: await status(name) });
          return { statuses };
        },
        async *watch(req, ctx) {
          let last: HealthCheckResponse_ServingStatus | undefined;
          while (!ctx.signal.aborted) {
            const s = await status(req.service);
            if (s !== last) {
              last = s;
              yield { status: s };
            }
            await new Promise((r) => setTimeout(r, 5000));
          }
        },
      });
      options.routes(router);
    },
    fallback: (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (code: number, body: string, type = 'application/json') => {
        res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      };
      if (path === '/healthz') return send(200, '{"status":"ok"}');
      if (path === '/readyz') {
        void readinessReport(options.readiness).then((r) => send(r.ok ? 200 : 503, JSON.stringify(r)));
        return;
      }
      if (path === '/metrics') {
        void metricsRegistry.metrics().then((m) => send(200, m, metricsRegistry.contentType));
        return;
      }
      const extra = path ? options.extraRoutes?.[path] : undefined;
      if (extra) return extra(req, res);
      send(404, '{"error":"not found"}');
    },
  });

  const h2 = createHttp2Server({}, handler);
  const h1 = createHttp1Server(handler);
  h1.keepAliveTimeout = 65_000;
  // HTTP/2 with prior knowledge starts with the connection preface; anything else is HTTP/1.1.
  const PREFACE = Buffer.from('PRI * HTTP/2.0');
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('readable', () => {
      const head = socket.read(PREFACE.length) as Buffer | null;
      if (head) socket.unshift(head);
      (head && head.equals(PREFACE) ? h2 : h1).emit('connection', socket);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  logger.info({ port, services: serviceNames }, 'rpc server listening');
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        h1.closeIdleConnections();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2000).unref();
        for (const s of sockets) if (!s.writableLength) s.end();
      });
    },
  };
}
