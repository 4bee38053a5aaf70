import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import {
  createServer as createHttp1Server,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import {
  constants as http2Constants,
  createServer as createHttp2Server,
  type Http2Session,
} from 'node:http2';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { create, type DescMessage, type DescService, type Message } from '@bufbuild/protobuf';
import { reflect, type ReflectMessage } from '@bufbuild/protobuf/reflect';
import {
  Code,
  ConnectError,
  createContextKey,
  type ConnectRouter,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
} from '@connectrpc/connect';
import { compressionBrotli, compressionGzip, connectNodeAdapter } from '@connectrpc/connect-node';

type NodeHandlerFn = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;
type NodeRequest = Parameters<NodeHandlerFn>[0];
type NodeResponse = Parameters<NodeHandlerFn>[1];
import {
  BadRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  Health as HealthService,
} from '@lucy/proto';
import { createApiKeyStore, isGranted, type ApiKeyCaller, type ApiKeyStore } from './api-keys.js';
import { errorMessage, PermanentError, ValidationError, type FieldError } from './errors.js';
import type { Logger } from './logger.js';
import { metricsRegistry, rpcCalls } from './metrics.js';
import { traceInterceptor } from './tracing.js';

/** A readiness dependency: throws when not reachable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** Time and connection limits of the RPC port (see {@link DEFAULT_RPC_LIMITS}). */
export interface RpcServerLimits {
  /** From accepting a connection to its first bytes, its TLS handshake and its complete request headers. */
  headersTimeoutMs: number;
  /** From the first bytes of an HTTP/1.1 request to its complete body. */
  requestTimeoutMs: number;
  /** A keep-alive HTTP/1.1 connection, an HTTP/2 session or stream with no traffic is closed after this. */
  idleTimeoutMs: number;
  /** Open connections at once; more are refused at accept. */
  maxConnections: number;
  /** Concurrent streams per HTTP/2 session. */
  maxConcurrentStreams: number;
}

/** Limits every service gets unless it overrides one. */
export const DEFAULT_RPC_LIMITS: Readonly<RpcServerLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  // Above the 60 s idle timeout of common load balancers, so they close first.
  idleTimeoutMs: 65_000,
  maxConnections: 512,
  maxConcurrentStreams: 100,
});

/** Largest request message by default, after decompression: 4 MiB. */
export const DEFAULT_RPC_READ_MAX_BYTES = 4 * 1024 * 1024;

/**
 * How much a compressed request message may grow when it is decompressed, past {@link INFLATE_FREE_BYTES}. Connect
 * bounds the result by `readMaxBytes` only, so 4 KB of gzip could become 4 MiB of two-byte empty list items — two
 * million messages to decode before the list's own bound refuses them, seconds of one core per request. Real
 * payloads (protobuf, JSON of names and dates) compress a few times, rarely past 20.
 */
export const MAX_INFLATE_RATIO = 32;
/** What any compressed message may decompress to, whatever its ratio. */
export const INFLATE_FREE_BYTES = 256 * 1024;

/** gzip and brotli, as Connect accepts them, with the decompressed size bounded by the compressed one. */
const boundedCompressions = [compressionGzip, compressionBrotli].map((c) => ({
  name: c.name,
  compress: (bytes: Uint8Array) => c.compress(bytes),
  decompress: (bytes: Uint8Array, readMaxBytes: number) =>
    c.decompress(
      bytes,
      Math.min(readMaxBytes, Math.max(INFLATE_FREE_BYTES, bytes.length * MAX_INFLATE_RATIO)),
    ),
}));

/** Options of {@link startRpcServer}. */
export interface RpcServerOptions {
  /** Port; 0 picks a free one. */
  port: number;
  /** Interface; default 127.0.0.1 (`RPC_HOST=0.0.0.0` in a container). */
  host?: string;
  /** Serve TLS (HTTP/2 and HTTP/1.1 by ALPN) with these PEM files, reloaded when they change. */
  tls?: { certFile: string; keyFile: string; reloadIntervalMs?: number };
  /**
   * Prometheus `/metrics` on its own port (never on the RPC port). Default: RPC port + 2000 on the same host (a
   * free port when the RPC port is 0); `false` disables it.
   */
  metrics?: { port: number; host?: string } | false;
  /** Largest request message, after decompression; default {@link DEFAULT_RPC_READ_MAX_BYTES}. */
  readMaxBytes?: number;
  /** Overrides of {@link DEFAULT_RPC_LIMITS}. */
  limits?: Partial<RpcServerLimits>;
  /** Registers the service implementations. */
  routes: (router: ConnectRouter) => void;
  /** Services served (for grpc.health.v1 per-service status). */
  services: DescService[];
  /** Bearer token every RPC but health must present (full access; the development default). */
  token: string;
  /**
   * Named API keys (api-keys.ts) accepted beside the token, each limited to its grants; re-read when the file
   * changes. Default `RPC_API_KEYS_FILE` from the environment, read here so every service gets keys without wiring.
   */
  apiKeysFile?: string;
  /**
   * Refuse the shared `token` (it grants everything): only named keys are accepted. Needs `apiKeysFile`; the token
   * then is only what this process presents when it calls another service (set RPC_TOKEN to the service's own key).
   * Default `RPC_TOKEN_DISABLED` (`1` or `true`) from the environment.
   */
  tokenDisabled?: boolean;
  readiness: ReadinessCheck[];
  logger: Logger;
  /** Extra HTTP routes (path → handler) served before the 404, e.g. an export download; they need the token. */
  extraRoutes?: Record<string, NodeHandlerFn>;
}

/** A running RPC server. */
export interface RpcServer {
  readonly port: number;
  /** `http://` or `https://` base URL of the RPC port. */
  readonly url: string;
  /** Port of `/metrics`, undefined when disabled. */
  readonly metricsPort: number | undefined;
  /** Base URL of the metrics port (`${metricsUrl}/metrics`), undefined when disabled. */
  readonly metricsUrl: string | undefined;
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
      if (res.stream) {
        // A streaming handler (an export) fails while it is iterated, after `next` returned: its errors are
        // translated the same way, or a ValidationError would reach the client as Internal.
        const source = res.message;
        const method = `${labels.service}/${labels.method}`;
        return {
          ...res,
          message: (async function* () {
            try {
              yield* source;
            } catch (err) {
              const ce = toConnectError(err, logger, method);
              rpcCalls.inc({ ...labels, code: Code[ce.code] });
              throw sanction(ce);
            }
            rpcCalls.inc({ ...labels, code: 'ok' });
          })(),
        };
      }
      rpcCalls.inc({ ...labels, code: 'ok' });
      return res;
    } catch (err) {
      const ce = toConnectError(err, logger, `${labels.service}/${labels.method}`);
      rpcCalls.inc({ ...labels, code: Code[ce.code] });
      throw sanction(ce);
    }
  };
}

/** Longest error message sent to a client; longer ones (an echoed 5 MB field) are cut. */
export const MAX_ERROR_MESSAGE_CHARS = 1000;

/** Errors our own code chose to send. Any other ConnectError reaching the wire came from the framework. */
const sanctioned = new WeakSet<ConnectError>();

function sanction(ce: ConnectError): ConnectError {
  if (ce.rawMessage.length > MAX_ERROR_MESSAGE_CHARS) rewriteError(ce, truncate(ce.rawMessage));
  sanctioned.add(ce);
  return ce;
}

function truncate(text: string): string {
  return `${text.slice(0, MAX_ERROR_MESSAGE_CHARS)}… (recortado)`;
}

/** Longest description of one invalid field sent to a client. */
const MAX_FIELD_MESSAGE_CHARS = 300;

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (recortado)` : text;
}

function rewriteError(ce: ConnectError, message: string, details?: ConnectError['details']): void {
  // Connect serialises `rawMessage` (and `details`) after aborting the context, so the rewrite reaches the wire.
  const writable = ce as { -readonly [K in keyof ConnectError]: ConnectError[K] };
  writable.rawMessage = message;
  writable.message = `[${Code[ce.code]}] ${message}`;
  if (details) writable.details = details;
}

/** What a client learns of an error the framework raised (decoding, size, compression, protocol). */
function frameworkMessage(code: Code, readMaxBytes: number): string {
  switch (code) {
    case Code.ResourceExhausted:
      return `El mensaje supera el tamaño máximo aceptado (${readMaxBytes} bytes).`;
    case Code.InvalidArgument:
      return 'La solicitud no se pudo interpretar: revisá el formato y el tipo de cada campo.';
    case Code.DeadlineExceeded:
      return 'Se agotó el tiempo de la solicitud.';
    case Code.Canceled:
      return 'La solicitud fue cancelada.';
    case Code.Unimplemented:
      return 'El método o el formato pedido no está disponible en este servicio.';
    default:
      return 'La solicitud no se pudo procesar.';
  }
}

function toConnectError(err: unknown, logger: Logger, method: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof ValidationError) {
    // A field's message may quote what was sent: each is cut, so a 5 MB value is never echoed back.
    const fields = err.fields.slice(0, 50).map((f) => ({
      field: cut(f.field, 120),
      description: cut(f.message, MAX_FIELD_MESSAGE_CHARS),
    }));
    return new ConnectError(
      fields.map((f) => `${f.field}: ${f.description}`).join('; '),
      Code.InvalidArgument,
      undefined,
      [{ desc: BadRequestSchema, value: create(BadRequestSchema, { violations: fields }) }],
    );
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

/** The message of a refused token. */
const UNAUTHENTICATED_MESSAGE = 'Falta el token de acceso o es incorrecto.';

/** The API key a call was authenticated with; undefined for the shared token. Handlers may read it. */
export const apiKeyCallerKey = createContextKey<ApiKeyCaller | undefined>(undefined, {
  description: 'API key caller',
});

/** Who a bearer credential is: `token` (the shared RPC_TOKEN), a named key's caller, or undefined (refused). */
function credentialChecker(
  token: string,
  keys: ApiKeyStore | undefined,
  tokenDisabled = false,
): (header: string | null | undefined) => 'token' | ApiKeyCaller | undefined {
  const isToken = tokenChecker(token);
  return (header) => {
    if (!tokenDisabled && isToken(header)) return 'token';
    if (!keys || !header?.startsWith('Bearer lk_')) return undefined;
    return keys.authenticate(header.slice('Bearer '.length));
  };
}

/**
 * The top-level `requestedBy` of a unary request called with a key: a key allowed to act for staff (`onBehalfOf`:
 * the admin's, the CLI's) keeps the staff member it names and fills an empty one with its name; any other key is
 * recorded as itself, whatever it claims, so Tareas and Logs never show a staff member a system made up.
 */
function apiKeyRequesterInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const caller = req.contextValues.get(apiKeyCallerKey);
    if (caller && !req.stream) {
      const field = req.method.input.fields.find(
        (f) => f.localName === 'requestedBy' && f.fieldKind === 'scalar',
      );
      const msg = req.message as unknown as Record<string, unknown>;
      if (field && (msg.requestedBy === '' || !caller.onBehalfOf)) {
        if (msg.requestedBy !== '' && msg.requestedBy !== caller.name)
          logger.warn(
            { apiKey: caller.name, keyId: caller.id, method: `${req.service.typeName}/${req.method.name}` },
            'requestedBy named by a key that may not act for staff; recorded as the key',
          );
        msg.requestedBy = caller.name;
      }
    }
    return next(req);
  };
}

/**
 * A stream opened with a key checks the key again before each message it sends: a key revoked (or whose grant
 * no longer covers the method) while a stream is open gets nothing more, not only on its next call.
 */
function apiKeyStreamInterceptor(keys: ApiKeyStore | undefined): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    const header = req.header.get('authorization') ?? '';
    if (!keys || !res.stream || !req.contextValues.get(apiKeyCallerKey)) return res;
    const source = res.message;
    return {
      ...res,
      message: (async function* () {
        for await (const m of source) {
          const now = keys.authenticate(header.slice('Bearer '.length));
          if (!now) throw sanction(new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated));
          if (!isGranted(now.grants, req.service.typeName, req.method.name))
            throw sanction(
              new ConnectError(
                `La clave de acceso «${now.name}» no tiene permiso para llamar a ${req.service.typeName}/${req.method.name}.`,
                Code.PermissionDenied,
              ),
            );
          yield m;
        }
      })(),
    };
  };
}

/** Constant-time check of an `Authorization` header against `Bearer <token>`. */
function tokenChecker(token: string): (header: string | null | undefined) => boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  return (header) => {
    const got = Buffer.from(header ?? '');
    return got.length === expected.length && timingSafeEqual(got, expected);
  };
}

/**
 * The request gate: runs before Connect reads, decompresses or parses the body, so a request without the
 * token costs nothing. It also makes sure framework errors (decoding, size, compression) reach the client as
 * a short Spanish message, never verbatim: a decoding error can echo megabytes of the request.
 */
function requestGate(
  token: string,
  readMaxBytes: number,
  logger: Logger,
  keys?: ApiKeyStore,
  tokenDisabled = false,
) {
  const credential = credentialChecker(token, keys, tokenDisabled);
  return (context: HandlerContext) => {
    context.signal.addEventListener(
      'abort',
      () => {
        const reason: unknown = context.signal.reason;
        if (!(reason instanceof ConnectError) || sanctioned.has(reason)) return;
        logger.warn(
          {
            method: `${context.service.typeName}/${context.method.name}`,
            code: Code[reason.code],
            reason: reason.rawMessage.slice(0, 300),
          },
          'rpc refused by the framework',
        );
        // Connect reports a binary request it cannot decode (a wrong wire type, invalid UTF-8 in a string) as
        // Internal; it is the request that is wrong, as with JSON, so the client is told so.
        if (reason.code === Code.Internal && reason.rawMessage.startsWith('parse binary'))
          (reason as { code: Code }).code = Code.InvalidArgument;
        rewriteError(reason, frameworkMessage(reason.code, readMaxBytes), []);
        sanctioned.add(reason);
      },
      { once: true },
    );
    if (context.service.typeName === HealthService.typeName) return;
    const who = credential(context.requestHeader.get('authorization'));
    if (!who) {
      rpcCalls.inc({
        service: context.service.typeName,
        method: context.method.name,
        code: 'Unauthenticated',
      });
      throw sanction(new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated));
    }
    if (who === 'token') return;
    const method = `${context.service.typeName}/${context.method.name}`;
    if (!isGranted(who.grants, context.service.typeName, context.method.name)) {
      rpcCalls.inc({
        service: context.service.typeName,
        method: context.method.name,
        code: 'PermissionDenied',
      });
      logger.warn({ apiKey: who.name, keyId: who.id, method }, 'rpc outside the api key grant');
      throw sanction(
        new ConnectError(
          `La clave de acceso «${who.name}» no tiene permiso para llamar a ${method}.`,
          Code.PermissionDenied,
        ),
      );
    }
    context.values.set(apiKeyCallerKey, who);
  };
}

/**
 * Requires `Authorization: Bearer <token>` on every RPC except grpc.health.v1. Kept for callers that build their
 * own router; {@link startRpcServer} checks the token earlier, in the request gate, before the body is read.
 */
export function authInterceptor(token: string): Interceptor {
  const authorized = tokenChecker(token);
  return (next) => async (req) => {
    if (req.service.typeName === HealthService.typeName) return next(req);
    if (!authorized(req.header.get('authorization'))) {
      throw sanction(new ConnectError(UNAUTHENTICATED_MESSAGE, Code.Unauthenticated));
    }
    return next(req);
  };
}

/**
 * `RPC_TOKEN_DISABLED` read strictly: `1`/`true` disable the shared token, unset, empty, `0`/`false` keep it, and
 * anything else (`yes`, `on`, ` 1`, a typo) stops the start — read as "keep the token", a mistyped flag would
 * leave the master credential working while the operator believes it refused.
 */
export function tokenDisabledFromEnv(value: string | undefined): boolean {
  const v = (value ?? '').toLowerCase();
  if (v === '1' || v === 'true') return true;
  if (v === '' || v === '0' || v === 'false') return false;
  throw new Error(
    `RPC_TOKEN_DISABLED=${JSON.stringify((value ?? '').slice(0, 40))} is not understood: use 1 or true (refuse the ` +
      'shared token) or 0, false or nothing (keep it)',
  );
}

/** Readiness: each dependency's name and state (`ok`, `error`, `timeout`); the cause goes to the log only. */
async function readinessReport(
  checks: ReadinessCheck[],
  logger: Logger,
): Promise<{ ok: boolean; checks: Record<string, 'ok' | 'error' | 'timeout'> }> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          c.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new ReadinessTimeout()), 2000).unref();
          }),
        ]);
        return [c.name, 'ok'] as const;
      } catch (err) {
        const state = err instanceof ReadinessTimeout ? 'timeout' : 'error';
        logger.warn({ dependency: c.name, state, reason: errorMessage(err) }, 'not ready');
        return [c.name, state] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ok: results.every(([, r]) => r === 'ok'), checks: Object.fromEntries(results) };
}

class ReadinessTimeout extends Error {
  override readonly name = 'ReadinessTimeout';
}

function sendJson(res: NodeResponse, code: number, body: unknown, extra: Record<string, string> = {}): void {
  (res as ServerResponse).writeHead(code, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(JSON.stringify(body));
}

/**
 * A request whose body was refused unread: close its connection (HTTP/1.1, announced with `Connection: close`
 * so the client does not reuse it) or cancel its stream (HTTP/2), instead of draining what the client sends.
 */
function dropUnreadBody(req: NodeRequest, res: NodeResponse): void {
  if ('stream' in req) {
    res.once('finish', () => {
      if (!req.complete) req.stream.close(http2Constants.NGHTTP2_CANCEL);
    });
    return;
  }
  const h1res = res as ServerResponse;
  const writeHead = h1res.writeHead.bind(h1res);
  // Headers go out before an unread body only when the request was refused (token, size, type).
  h1res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!req.complete) {
      this.shouldKeepAlive = false;
      // Lingering close: after the answer, send FIN and discard what still arrives for a moment, so the client
      // reads the answer instead of a reset; then the socket goes, whatever the client still has to send.
      const socket = req.socket;
      socket.destroySoon = () => {
        socket.end();
        req.resume();
        setTimeout(() => socket.destroy(), LINGER_MS).unref();
      };
    }
    return writeHead(...args);
  } as ServerResponse['writeHead'];
}

const LINGER_MS = 1000;

/** The Prometheus endpoint, alone on its port: nothing else is served there. */
async function startMetricsServer(host: string, port: number): Promise<HttpServer> {
  const server = createHttp1Server((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      sendJson(res, 404, { error: 'not found' });
      return;
    }
    void metricsRegistry.metrics().then(
      (m) => {
        res.writeHead(200, { 'content-type': metricsRegistry.contentType, 'cache-control': 'no-store' });
        res.end(m);
      },
      () => sendJson(res, 500, { error: 'metrics unavailable' }),
    );
  });
  server.headersTimeout = DEFAULT_RPC_LIMITS.headersTimeoutMs;
  server.requestTimeout = DEFAULT_RPC_LIMITS.requestTimeoutMs;
  server.maxConnections = 32;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Reads the certificate and key, checking they form a pair; throws with the file names. */
function readTlsPair(files: { certFile: string; keyFile: string }): { cert: Buffer; key: Buffer } {
  const cert = readFileSync(files.certFile);
  const key = readFileSync(files.keyFile);
  // Fails on a mismatched or half-written pair, before it replaces a working one.
  createTlsServer({ cert, key }).close();
  return { cert, key };
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * One port per service serving Connect, gRPC and gRPC-Web over HTTP/2 (h2c with prior knowledge, or TLS with
 * ALPN) and HTTP/1.1, plus grpc.health.v1, `/healthz` (process alive) and `/readyz` (dependency names and states)
 * without the token; every other route needs it. `/metrics` is served on a port of its own.
 *
 * The token is checked before the body is read; request messages are limited to `readMaxBytes` after
 * decompression; slow and idle connections are closed and their number capped (see {@link RpcServerLimits}).
 */
export async function startRpcServer(options: RpcServerOptions): Promise<RpcServer> {
  const { logger } = options;
  const host = options.host ?? '127.0.0.1';
  const limits: RpcServerLimits = { ...DEFAULT_RPC_LIMITS, ...options.limits };
  const readMaxBytes = options.readMaxBytes ?? DEFAULT_RPC_READ_MAX_BYTES;
  const apiKeysFile = options.apiKeysFile ?? process.env.RPC_API_KEYS_FILE;
  const apiKeys = apiKeysFile
    ? createApiKeyStore(apiKeysFile, {
        onError: (err) =>
          logger.error({ reason: errorMessage(err) }, 'api keys file unreadable; keeping the keys last read'),
      })
    : undefined;
  const tokenDisabled = options.tokenDisabled ?? tokenDisabledFromEnv(process.env.RPC_TOKEN_DISABLED);
  if (tokenDisabled && !apiKeys)
    throw new Error(
      'RPC_TOKEN_DISABLED needs RPC_API_KEYS_FILE: with the shared token refused and no keys nobody could call',
    );
  if (apiKeys && !tokenDisabled)
    logger.warn(
      'RPC API keys are on but the shared RPC_TOKEN still grants everything; set RPC_TOKEN_DISABLED=1 once every ' +
        'caller (the admin, the CLI, each service, each system) has a key of its own',
    );
  const credential = credentialChecker(options.token, apiKeys, tokenDisabled);
  // Extra routes (exports) are not methods: the token or a key granted everything.
  const authorized = (header: string | undefined) => {
    const who = credential(header);
    return who === 'token' || (who !== undefined && who.grants.includes('*'));
  };
  const serviceNames = options.services.map((s) => s.typeName);
  const status = async (service: string) => {
    if (service !== '' && !serviceNames.includes(service))
      return HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN;
    return (await readinessReport(options.readiness, logger)).ok
      ? HealthCheckResponse_ServingStatus.SERVING
      : HealthCheckResponse_ServingStatus.NOT_SERVING;
  };
  const connectHandler = connectNodeAdapter({
    readMaxBytes,
    acceptCompression: boundedCompressions,
    requestGate: requestGate(options.token, readMaxBytes, logger, apiKeys, tokenDisabled),
    interceptors: [
      traceInterceptor(),
      apiKeyRequesterInterceptor(logger),
      errorInterceptor(logger),
      apiKeyStreamInterceptor(apiKeys),
    ],
    routes: (router) => {
      router.service(HealthService, {
        async check(req) {
          const s = await status(req.service);
          if (s === HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN) {
            throw new ConnectError(`unknown service ${req.service.slice(0, 200)}`, Code.NotFound);
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
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz') {
        void readinessReport(options.readiness, logger).then((r) => sendJson(res, r.ok ? 200 : 503, r));
        return;
      }
      if (!authorized(req.headers.authorization)) {
        return sendJson(res, 401, { error: UNAUTHENTICATED_MESSAGE }, { 'www-authenticate': 'Bearer' });
      }
      const extra = path ? options.extraRoutes?.[path] : undefined;
      if (extra) return extra(req, res);
      sendJson(res, 404, { error: 'not found' });
    },
  });
  const handler = (req: NodeRequest, res: NodeResponse) => {
    dropUnreadBody(req, res);
    connectHandler(req, res);
  };

  const settings = { maxConcurrentStreams: limits.maxConcurrentStreams };
  const h2 = createHttp2Server({ settings, maxSessionMemory: 32 }, handler);
  // An idle session is closed, but not one holding an open stream: a quiet server stream (WatchTareas, health
  // watch) may send nothing for minutes and must stay.
  const openStreams = new WeakMap<Http2Session, number>();
  h2.on('session', (session: Http2Session) => {
    openStreams.set(session, 0);
    session.setTimeout(limits.idleTimeoutMs, () => {
      if (!openStreams.get(session)) session.close();
    });
  });
  h2.on('stream', (stream) => {
    const session = stream.session;
    if (session) openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
    stream.once('close', () => {
      if (session) openStreams.set(session, Math.max(0, (openStreams.get(session) ?? 1) - 1));
    });
    // A request body must keep coming: the timeout holds until the request is complete, not for the response.
    stream.setTimeout(limits.requestTimeoutMs, () => stream.close(http2Constants.NGHTTP2_CANCEL));
    stream.once('end', () => stream.setTimeout(0));
  });
  const h1 = createHttp1Server({ requestTimeout: limits.requestTimeoutMs }, handler);
  h1.headersTimeout = limits.headersTimeoutMs;
  h1.keepAliveTimeout = limits.idleTimeoutMs;
  // Node enforces headersTimeout/requestTimeout only on servers that listen themselves; this one is handed its
  // sockets, so the deadlines are kept here: headers within headersTimeoutMs of the first byte (or of the end of
  // the previous response plus the keep-alive time), the whole request body within requestTimeoutMs.
  const deadlines = new WeakMap<Socket, NodeJS.Timeout>();
  const deadline = (socket: Socket, ms: number, met: () => boolean = () => false) => {
    clearTimeout(deadlines.get(socket));
    deadlines.set(
      socket,
      setTimeout(() => {
        if (!met()) socket.destroy();
      }, ms).unref(),
    );
  };
  const h1Dispatch = (socket: Socket) => {
    deadline(socket, limits.headersTimeoutMs);
    socket.once('close', () => clearTimeout(deadlines.get(socket)));
    h1.emit('connection', socket);
  };
  h1.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    // `complete` is set by the parser whether or not anyone reads the body, so a long response is never cut.
    deadline(socket, limits.requestTimeoutMs, () => req.complete);
    res.once('finish', () => {
      if (!socket.destroyed) deadline(socket, limits.idleTimeoutMs + limits.headersTimeoutMs);
    });
  });

  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  // HTTP/2 with prior knowledge starts with the connection preface; anything else is HTTP/1.1.
  const PREFACE = Buffer.from('PRI * HTTP/2.0');
  const dispatchCleartext = (socket: Socket) => {
    // Until a protocol owns the socket nothing else times it out: a client that connects and stays silent.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    socket.once('readable', () => {
      socket.setTimeout(0);
      const head = socket.read(PREFACE.length) as Buffer | null;
      if (head) socket.unshift(head);
      if (head && head.equals(PREFACE)) h2.emit('connection', socket);
      else h1Dispatch(socket);
    });
  };

  let server: NetServer;
  let stopReload = () => undefined as void;
  if (options.tls) {
    const files = options.tls;
    const tlsServer = createTlsServer({
      ...readTlsPair(files),
      ALPNProtocols: ['h2', 'http/1.1'],
      handshakeTimeout: limits.headersTimeoutMs,
      minVersion: 'TLSv1.2',
    });
    tlsServer.on('connection', track);
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') h2.emit('connection', socket);
      else h1Dispatch(socket);
    });
    tlsServer.on('tlsClientError', (_err, socket) => socket.destroy());
    // Certificates rotate (cert-manager, a mesh): pick up new files without a restart.
    const reload = () => {
      try {
        tlsServer.setSecureContext(readTlsPair(files));
        logger.info({ certFile: files.certFile }, 'rpc tls certificate reloaded');
      } catch (err) {
        logger.warn(
          { certFile: files.certFile, reason: errorMessage(err) },
          'rpc tls reload failed; keeping the previous',
        );
      }
    };
    const interval = files.reloadIntervalMs ?? 10_000;
    watchFile(files.certFile, { interval, persistent: false }, reload);
    watchFile(files.keyFile, { interval, persistent: false }, reload);
    stopReload = () => {
      unwatchFile(files.certFile, reload);
      unwatchFile(files.keyFile, reload);
    };
    server = tlsServer;
  } else {
    server = createNetServer((socket) => {
      track(socket);
      dispatchCleartext(socket);
    });
  }
  server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  let metricsServer: HttpServer | undefined;
  let metricsPort: number | undefined;
  if (options.metrics !== false) {
    const wanted = options.metrics ?? { port: options.port === 0 ? 0 : options.port + 2000 };
    try {
      metricsServer = await startMetricsServer(wanted.host ?? host, wanted.port);
    } catch (err) {
      server.close();
      throw err;
    }
    const a = metricsServer.address();
    metricsPort = typeof a === 'object' && a ? a.port : wanted.port;
  }
  const metricsHost = options.metrics ? (options.metrics.host ?? host) : host;
  logger.info(
    { port, host, tls: Boolean(options.tls), metricsPort, services: serviceNames },
    'rpc server listening',
  );
  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://${urlHost(host)}:${port}`,
    metricsPort,
    metricsUrl: metricsPort === undefined ? undefined : `http://${urlHost(metricsHost)}:${metricsPort}`,
    async close() {
      stopReload();
      metricsServer?.close();
      metricsServer?.closeAllConnections();
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

/** Bounds of a service's request messages: checked in one place, before any handler runs. */
export interface InputBounds {
  /** Most characters of a string field by dotted proto path (`schedule.crontab.minute`) or bare field name. */
  maxChars?: Record<string, number>;
  /** Characters of any other string field; default 1000. */
  defaultMaxChars?: number;
  /** Elements of any repeated or map field; default 1000. */
  maxItems?: number;
  /** Spanish names of fields for the messages, by path or bare name (`minute` → `minuto`). */
  labels?: Record<string, string>;
  /** Further checks of one method's request (numbers in range, formats), run after the string checks. */
  check?: (method: string, req: Message) => FieldError[];
}

// NUL, C0 controls other than tab/newline/return, lone surrogates and the two non-characters U+FFFE/U+FFFF.
const INVALID_TEXT =
  // eslint-disable-next-line no-control-regex -- these control characters are exactly what is refused
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The JSON-like well-known types, whose paths {@link inputBoundErrors} rewrites as the JSON the client sent. */
const STRUCT_TYPES = new Set([
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
]);

/**
 * Every string of a request message checked against the bounds, at any depth (oneofs, repeated, maps, Struct
 * values): no NUL or invalid code points, at most the column's length, at most `maxItems` per list. Errors name
 * the field path and say in Spanish what is wrong, never quoting the value.
 */
export function inputBoundErrors(schema: DescMessage, message: Message, bounds: InputBounds): FieldError[] {
  const errors: FieldError[] = [];
  const maxItems = bounds.maxItems ?? 1000;
  // Without a prototype: a field or Struct key named `constructor` or `toString` must not find Object's methods.
  const labels = Object.assign(Object.create(null) as Record<string, string>, bounds.labels);
  const labelOf = (path: string, name: string) => labels[path] ?? labels[name] ?? `el campo «${name}»`;
  const maxChars = Object.assign(Object.create(null) as Record<string, number>, bounds.maxChars);
  const defaultMax = bounds.defaultMaxChars ?? 1000;
  // Whether any bound names a dotted path (most name bare fields): when none does, a path is never looked up, which
  // spares building and hashing a new string per field of every row.
  const pathBounds = Object.keys(maxChars).some((k) => /[.[]/.test(k));
  const checkText = (rawPath: string, rawName: string, value: string, inStruct: boolean) => {
    // The common case first, with nothing allocated: a short text of valid characters under a plain path (no
    // Struct/Value step, so the path needs no rewriting) whose bound no path-specific entry overrides — every string
    // of a 2,000-row import goes through here.
    const plain = !inStruct;
    if (
      plain &&
      value.length <= ((pathBounds ? maxChars[rawPath] : undefined) ?? maxChars[rawName] ?? defaultMax) &&
      !INVALID_TEXT.test(value)
    )
      return;
    // google.protobuf.Struct/Value paths read as the JSON the client sent: `kwargs.fields.x.string_value` → `kwargs.x`.
    // Only those: a map key or field elsewhere that merely looks like such a step is named as it is.
    const path = plain
      ? rawPath
      : rawPath
          .replace(/\.fields\.([^.]+)/g, '.$1')
          .replace(/\.(string|struct|list|number|bool)_value/g, '')
          .replace(/\.values\[(\d+)\]/g, '[$1]');
    const name = path === rawPath ? rawName : (path.split('.').at(-1) ?? rawName).replace(/\[\d+\]$/, '');
    const max = maxChars[path] ?? maxChars[name] ?? defaultMax;
    if (value.length > max) {
      const chars = [...value].length;
      if (chars > max) {
        errors.push({
          field: path,
          message: `${capitalize(labelOf(path, name))} admite como máximo ${max} caracteres (tiene ${chars}).`,
        });
        return;
      }
    }
    if (INVALID_TEXT.test(value))
      errors.push({
        field: path,
        message: `${capitalize(labelOf(path, name))} contiene caracteres no válidos (NUL, de control o UTF-16 incompleto).`,
      });
  };
  const walk = (m: ReflectMessage, prefix: string, depth: number, parentInStruct = false) => {
    if (depth > 32 || errors.length >= 20) return;
    const inStruct = parentInStruct || STRUCT_TYPES.has(m.desc.typeName);
    for (const field of m.fields) {
      if (!m.isSet(field)) continue;
      const path = prefix ? `${prefix}.${field.name}` : field.name;
      switch (field.fieldKind) {
        case 'scalar': {
          const v: unknown = m.get(field);
          if (typeof v === 'string') checkText(path, field.name, v, inStruct);
          break;
        }
        case 'message':
          walk(m.get(field), path, depth + 1, inStruct);
          break;
        case 'list': {
          const list = m.get(field);
          if (list.size > maxItems) {
            errors.push({
              field: path,
              message: `${capitalize(labelOf(path, field.name))} admite como máximo ${maxItems} elementos (tiene ${list.size}).`,
            });
            break;
          }
          let i = 0;
          for (const item of list) {
            if (typeof item === 'string') checkText(`${path}[${i}]`, field.name, item, inStruct);
            else if (item && typeof item === 'object' && 'fields' in item)
              walk(item as ReflectMessage, `${path}[${i}]`, depth + 1, inStruct);
            i++;
          }
          break;
        }
        case 'map': {
          const map = m.get(field);
          if (map.size > maxItems) {
            errors.push({
              field: path,
              message: `${capitalize(labelOf(path, field.name))} admite como máximo ${maxItems} elementos (tiene ${map.size}).`,
            });
            break;
          }
          for (const [key, item] of map) {
            const keyText = String(key);
            checkText(`${path}.(clave)`, field.name, keyText, inStruct);
            const itemPath = `${path}.${keyText.slice(0, 40)}`;
            if (typeof item === 'string') checkText(itemPath, field.name, item, inStruct);
            else if (item && typeof item === 'object' && 'fields' in item)
              walk(item as ReflectMessage, itemPath, depth + 1, inStruct);
          }
          break;
        }
        default:
          break;
      }
    }
  };
  walk(reflect(schema, message), '', 0);
  return errors;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A service implementation whose every method first checks its request against the bounds (see
 * {@link inputBoundErrors}) and answers InvalidArgument naming the fields, so a handler never sees a NUL byte,
 * a value longer than its column or a million-element list.
 */
export function withInputBounds<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  bounds: InputBounds,
): ServiceImpl<S> {
  const out: Record<string, unknown> = {};
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName];
    if (typeof handler !== 'function') continue;
    // Client-streaming requests are iterables; their messages are bounded by readMaxBytes.
    if (method.methodKind !== 'unary' && method.methodKind !== 'server_streaming') {
      out[method.localName] = handler;
      continue;
    }
    out[method.localName] = (req: Message, ctx: unknown) => {
      const errors = inputBoundErrors(method.input, req, bounds);
      if (!errors.length && bounds.check) errors.push(...bounds.check(method.localName, req));
      if (errors.length) throw new ValidationError(errors);
      return (handler as (req: Message, ctx: unknown) => unknown).call(impl, req, ctx);
    };
  }
  return out as ServiceImpl<S>;
}
