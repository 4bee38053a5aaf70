/**
 * A faithful Microsoft Graph v1.0 (users, licences, deleted items, JSON batching) and Entra ID token endpoint fake
 * over real HTTPS with a self-signed certificate: the real paths, status codes, JSON shapes, error bodies and
 * headers, bearer-token checks, write throttling per app, plus fault switches for tests and the dev stack.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  closeServer,
  extendKeepAlive,
  listen,
  mulberry32,
  readBody,
  readJsonBody,
  sendJson,
  serverOrigin,
} from '@lucy/fake-kit';
import {
  createDirectory,
  projectUser,
  SELECTABLE_USER_PROPERTIES,
  STUDENT_SKU,
  type FakeGraphSku,
  type FakeGraphUser,
  type SkuUsage,
} from './directory.js';
import {
  FakeInputError,
  mergeFaults,
  takeFault,
  type FakeGraphFaults,
  type FakeGraphFaultsInput,
} from './faults.js';
import { GraphFakeError } from './graph-error.js';
import { graphIndexPage } from './index-page.js';
import { parsePage, parseSelect, parseUserFilter, skipToken } from './odata.js';
import { DEFAULT_TLS_HOSTS, generateCertificate, type FakeGraphTls } from './tls.js';
import { GRAPH_APP_ID, GRAPH_RESOURCE, issueToken, verifyToken, type FakeGraphApp } from './token.js';
import {
  JWT_BEARER_ASSERTION,
  registerCertificate,
  verifyClientAssertion,
  type RegisteredCertificate,
} from './client-assertion.js';

/** Tenant id used when none is given. */
export const DEFAULT_TENANT_ID = '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b';
/** App registration used when none is given. */
export const DEFAULT_APP: Readonly<Required<Omit<FakeGraphApp, 'certificates' | 'tokenKeySeed'>>> =
  Object.freeze({
    clientId: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
    clientSecret: 'fake-graph-secret',
    roles: ['User.ReadWrite.All', 'Directory.ReadWrite.All', 'LicenseAssignment.ReadWrite.All'],
    passwordAdmin: true,
  });
/** Verified domains used when none are given. */
export const DEFAULT_DOMAINS: readonly string[] = ['alumnos.example.edu.ar', 'lucyfake.onmicrosoft.com'];
/** Graph's documented write quota per app and tenant (identity and access): 3,000 writes per 150 s. */
export const DEFAULT_WRITE_LIMIT = 3000;
/** The write-quota window, in ms. */
export const WRITE_WINDOW_MS = 150_000;
/** Graph's JSON batching limit. */
export const MAX_BATCH_REQUESTS = 20;

/** Options of {@link createFakeGraph}. */
export interface FakeGraphOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Certificate and key (PEM); default a fresh self-signed one for localhost, 127.0.0.1 and ::1. */
  tls?: FakeGraphTls;
  /** When given, the certificate (the CA clients must trust) is written there, for `NODE_EXTRA_CA_CERTS`. */
  caFile?: string;
  /** Tenant id (GUID); default {@link DEFAULT_TENANT_ID}. */
  tenantId?: string;
  /** App registrations allowed to get tokens; default [{@link DEFAULT_APP}]. */
  apps?: FakeGraphApp[];
  /** Verified domains for UPNs; default {@link DEFAULT_DOMAINS}. */
  domains?: string[];
  /** Subscribed SKUs; default the student SKU (STANDARDWOFFPACK_STUDENT) with 500 seats. */
  skus?: FakeGraphSku[];
  /** Clock (epoch ms) for tokens, replication lag, the throttling window and dates; default `Date.now`. */
  now?: () => number;
  /** Lifetime of issued tokens, in s; default 3599 (Entra's). */
  tokenLifetimeSeconds?: number;
  /** Writes allowed per app per 150 s before 429; default 3,000 (Graph's identity write quota). */
  writeLimit?: number;
  /** Replication lag of created users, in ms; default 0. The `replicationLagMs` fault overrides it. */
  replicationLagMs?: number;
  /** Base latency of every Graph and token response, in ms; default 0. The `latencyMs` fault overrides it. */
  latencyMs?: number;
  /** Seed of the sequence `ratio` faults draw from; default 1. */
  seed?: number;
}

/** Requests received since start or the last reset. */
export interface FakeGraphRequestCounts {
  openidConfiguration: number;
  token: number;
  /** Token requests refused (bad client, secret, scope...). */
  tokenErrors: number;
  /** Graph requests, each request inside a batch counted too. */
  graph: number;
  batch: number;
  /** Graph requests refused with 401. */
  unauthorized: number;
  /** 429 answers, injected or from the write quota. */
  throttled: number;
  /** Answers from the 503/500/403 faults. */
  faulted: number;
  control: number;
  other: number;
}

/** Write counts against the quota. */
export interface FakeGraphWrites {
  limitPer150s: number;
  /** Writes accepted since start or reset. */
  total: number;
  /** Writes in the current 150 s window, per app id. */
  windowByApp: Record<string, number>;
  /** The most writes any app had in one 150 s window. */
  peakWindow: number;
}

/** A snapshot of the fake, as `state()` and `GET /__fake/state` return it. */
export interface FakeGraphState {
  tenantId: string;
  domains: string[];
  users: number;
  deletedUsers: number;
  skus: SkuUsage[];
  faults: FakeGraphFaults;
  requests: FakeGraphRequestCounts;
  writes: FakeGraphWrites;
  now: string;
}

/** A running fake. */
export interface FakeGraph {
  /** Base URL without trailing slash, e.g. `https://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  /** Graph base for clients: `{url}/v1.0`. */
  readonly graphUrl: string;
  /** The `authorityHost` for `@azure/identity` (same origin as `url`). */
  readonly authorityHost: string;
  /** Token endpoint: `{url}/{tenantId}/oauth2/v2.0/token`. */
  readonly tokenUrl: string;
  readonly tenantId: string;
  /** The certificate clients must trust (self-signed, so it is its own CA), PEM. */
  readonly caPem: string;
  /** Where the CA was written (`caFile` option), if anywhere. */
  readonly caFile: string | undefined;
  /** The first configured app, for convenience. */
  readonly app: FakeGraphApp;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
  /** Merges fault settings (see {@link FakeGraphFaultsInput}); returns the resulting faults. */
  setFaults(faults: FakeGraphFaultsInput): FakeGraphFaults;
  clearFaults(): void;
  /** Sets the seats of a SKU (by part number or id). */
  setSeats(sku: string, seats: number): void;
  /** A copy of a stored user (by id or UPN, deleted ones included, replication lag ignored), password included. */
  user(key: string): FakeGraphUser | undefined;
  /** Copies of every stored user, deleted ones last. */
  users(): FakeGraphUser[];
  /** Issues a token directly, as the token endpoint would for the app (default the first one). */
  issueToken(clientId?: string): string;
  /**
   * Replaces an app's client secret (default the first app), as adding a new secret in Entra and deleting the old
   * one does: token requests with the old secret are refused from now on; tokens already issued stay valid.
   */
  setClientSecret(secret: string, clientId?: string): void;
  /** Clears users, deleted items, faults, counters and the write window; restores the SKUs' seats. */
  reset(): void;
  state(): FakeGraphState;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

/** One Graph request, from HTTP or from inside a batch. */
interface GraphCall {
  method: string;
  /** Path after `/v1.0`, e.g. `/users/abc`. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  app: FakeGraphApp;
  requestId: string;
  clientRequestId: string;
}

const ODATA_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const MAX_BODY = 4 << 20;
const AGS_DIAGNOSTIC = JSON.stringify({
  ServerInfo: { DataCenter: 'Local', Slice: 'E', Ring: '0', ScaleUnit: '000', RoleInstance: 'fake-graph' },
});
const WWW_AUTHENTICATE = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`;

const zeroCounts = (): FakeGraphRequestCounts => ({
  openidConfiguration: 0,
  token: 0,
  tokenErrors: 0,
  graph: 0,
  batch: 0,
  unauthorized: 0,
  throttled: 0,
  faulted: 0,
  control: 0,
  other: 0,
});

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GraphFakeError(
      400,
      'BadRequest',
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    );
  }
}

const send = (res: ServerResponse, reply: Reply): void =>
  sendJson(res, reply.status, reply.body, reply.headers);

/** `innerError.date` as Graph writes it: ISO 8601 to the second, no zone suffix. */
const graphDate = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

/** Entra's `timestamp`: `2023-05-06 06:03:00Z`. */
const aadTimestamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;

/**
 * Starts the Graph fake on a real HTTPS server.
 *
 * Entra ID: `GET /{tenant}/v2.0/.well-known/openid-configuration`, `POST /{tenant}/oauth2/v2.0/token`
 * (client_credentials), `GET /{tenant}/discovery/v2.0/keys`. Graph v1.0 (bearer token): `POST|GET /users`,
 * `GET|PATCH|DELETE /users/{id|upn}`, `POST /users/{id|upn}/assignLicense`, `GET /subscribedSkus`,
 * `GET /directory/deletedItems/microsoft.graph.user`, `GET|DELETE /directory/deletedItems/{id}`,
 * `POST /directory/deletedItems/{id}/restore`, `POST /$batch`. Control (no auth, fake only): `GET /__fake/state`,
 * `GET /__fake/users`, `POST|DELETE /__fake/faults`, `POST /__fake/reset`, `POST /__fake/seats`; `GET /healthz`.
 */
export async function createFakeGraph(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const now = options.now ?? (() => Date.now());
  const tenantId = (options.tenantId ?? DEFAULT_TENANT_ID).toLowerCase();
  const apps: FakeGraphApp[] = (options.apps ?? [DEFAULT_APP]).map((a) => ({ ...a }));
  const firstApp = apps[0];
  if (!firstApp) throw new FakeInputError('apps must name at least one app');
  const domains = options.domains ?? [...DEFAULT_DOMAINS];
  const writeLimit = options.writeLimit ?? DEFAULT_WRITE_LIMIT;
  const tokenLifetime = options.tokenLifetimeSeconds ?? 3599;
  const directory = createDirectory({ tenantId, domains, skus: options.skus ?? [STUDENT_SKU], now });
  const tls = options.tls ?? (await generateCertificate(DEFAULT_TLS_HOSTS));

  let faults: FakeGraphFaults = {};
  let counts = zeroCounts();
  let random = mulberry32(options.seed ?? 1);
  let writeLog = new Map<string, number[]>();
  let writesTotal = 0;
  let peakWindow = 0;
  let baseUrl = '';
  const registered = new Map<FakeGraphApp, RegisteredCertificate[]>();
  const certificatesOf = (app: FakeGraphApp): RegisteredCertificate[] => {
    let certs = registered.get(app);
    if (!certs) {
      certs = (app.certificates ?? []).map(registerCertificate);
      registered.set(app, certs);
    }
    return certs;
  };

  const latency = (): number => faults.latencyMs ?? options.latencyMs ?? 0;
  const lag = (): number => faults.replicationLagMs ?? options.replicationLagMs ?? 0;
  const knownTenant = (t: string): boolean =>
    t.toLowerCase() === tenantId || domains.some((d) => d.toLowerCase() === t.toLowerCase());

  const windowWrites = (appId: string): number[] => {
    const cutoff = now() - WRITE_WINDOW_MS;
    const log = (writeLog.get(appId) ?? []).filter((t) => t > cutoff);
    writeLog.set(appId, log);
    return log;
  };

  const graphHeaders = (call: { requestId: string; clientRequestId: string }): Record<string, string> => ({
    'request-id': call.requestId,
    'client-request-id': call.clientRequestId,
    'x-ms-ags-diagnostic': AGS_DIAGNOSTIC,
    'cache-control': 'no-cache',
    'strict-transport-security': 'max-age=31536000',
  });

  const errorReply = (err: GraphFakeError, call: { requestId: string; clientRequestId: string }): Reply => {
    const error: Record<string, unknown> = { code: err.code, message: err.message };
    if (err.details) error.details = err.details;
    error.innerError = {
      date: graphDate(now()),
      'request-id': call.requestId,
      'client-request-id': call.clientRequestId,
    };
    return {
      status: err.status,
      body: { error },
      headers: { ...graphHeaders(call), 'content-type': 'application/json', ...err.headers },
    };
  };

  const okReply = (
    status: number,
    body: unknown,
    call: GraphCall,
    extra?: Record<string, string>,
  ): Reply => ({
    status,
    body,
    headers: {
      ...graphHeaders(call),
      ...(body === undefined ? {} : { 'content-type': ODATA_JSON, 'odata-version': '4.0' }),
      ...extra,
    },
  });

  const context = (fragment: string): string => `${baseUrl}/v1.0/$metadata#${fragment}`;

  /** Faults and the write quota, checked before a Graph call runs (per request inside a batch too). */
  const gate = (call: GraphCall): GraphFakeError | undefined => {
    const kind = call.method === 'GET' ? 'read' : 'write';
    const taken = takeFault(faults, kind, random);
    if (taken) {
      const retry = { 'retry-after': String(taken.fault.retryAfterSeconds) };
      switch (taken.name) {
        case 'throttle':
          counts.throttled++;
          return new GraphFakeError(429, 'TooManyRequests', 'The request has been throttled', undefined, {
            ...retry,
            'x-ms-throttle-scope': `Tenant_Application/WriteLimitExceeded/${call.app.clientId}/${tenantId}`,
            'x-ms-throttle-information': 'WriteLimitExceeded',
          });
        case 'status503':
          counts.faulted++;
          return new GraphFakeError(
            503,
            'ServiceNotAvailable',
            'The service is temporarily unavailable. Please retry.',
            undefined,
            retry,
          );
        case 'status500':
          counts.faulted++;
          return new GraphFakeError(
            500,
            'InternalServerError',
            'An internal server error occurred. Please retry.',
          );
        case 'forbidden':
          counts.faulted++;
          return new GraphFakeError(
            403,
            'Authorization_RequestDenied',
            'Insufficient privileges to complete the operation.',
          );
      }
    }
    if (kind === 'write') {
      const log = windowWrites(call.app.clientId);
      if (log.length >= writeLimit) {
        counts.throttled++;
        const oldest = log[0] ?? now();
        const wait = Math.max(1, Math.ceil((oldest + WRITE_WINDOW_MS - now()) / 1000));
        return new GraphFakeError(429, 'TooManyRequests', 'The request has been throttled', undefined, {
          'retry-after': String(wait),
          'x-ms-throttle-scope': `Tenant_Application/WriteLimitExceeded/${call.app.clientId}/${tenantId}`,
          'x-ms-throttle-information': 'WriteLimitExceeded',
        });
      }
      log.push(now());
      writesTotal++;
      peakWindow = Math.max(peakWindow, log.length);
    }
    return undefined;
  };

  /** Extra headers of an accepted write: the share of the quota used, once it passes 80 % (as Graph does). */
  const quotaHeaders = (call: GraphCall): Record<string, string> => {
    if (call.method === 'GET') return {};
    const used = (writeLog.get(call.app.clientId)?.length ?? 0) / writeLimit;
    return used >= 0.8 ? { 'x-ms-throttle-limit-percentage': used.toFixed(2) } : {};
  };

  const requireRole = (call: GraphCall, write: boolean): void => {
    const roles = call.app.roles ?? DEFAULT_APP.roles;
    const ok = write
      ? roles.some((r) => r === 'User.ReadWrite.All' || r === 'Directory.ReadWrite.All')
      : roles.some((r) => /^(User|Directory)\.(Read|ReadWrite)\.All$/.test(r));
    if (!ok) {
      throw new GraphFakeError(
        403,
        'Authorization_RequestDenied',
        'Insufficient privileges to complete the operation.',
      );
    }
  };

  const methodNotAllowed = (): GraphFakeError =>
    new GraphFakeError(
      405,
      'Request_BadRequest',
      'Specified HTTP method is not allowed for the request target.',
    );

  const listUsers = (call: GraphCall): Reply => {
    const select = parseSelect(call.query.get('$select'), SELECTABLE_USER_PROPERTIES);
    const filterText = call.query.get('$filter');
    const predicate = filterText === null ? undefined : parseUserFilter(filterText);
    if (call.query.get('$count') !== null && call.headers.consistencylevel?.toLowerCase() !== 'eventual') {
      throw new GraphFakeError(400, 'Request_BadRequest', '$count is not currently supported.');
    }
    const page = parsePage(call.query.get('$top'), call.query.get('$skiptoken'));
    const matching = directory
      .visibleUsers()
      .filter((u) => !predicate || predicate(u as unknown as Record<string, unknown>));
    const slice = matching.slice(page.offset, page.offset + page.top);
    const body: Record<string, unknown> = {
      '@odata.context': context(select ? `users(${select.join(',')})` : 'users'),
    };
    if (page.offset + page.top < matching.length) {
      const next = new URLSearchParams(call.query);
      next.delete('$skiptoken');
      next.set('$top', String(page.top));
      next.set('$skiptoken', skipToken(page.offset + page.top));
      body['@odata.nextLink'] = `${baseUrl}/v1.0/users?${next.toString()}`;
    }
    body.value = slice.map((u) => projectUser(u, select));
    return okReply(200, body, call);
  };

  const userEntity = (user: FakeGraphUser, call: GraphCall, select?: string[]): Record<string, unknown> => ({
    '@odata.context': context(select ? `users(${select.join(',')})/$entity` : 'users/$entity'),
    ...projectUser(user, select),
  });

  /** Runs one Graph call (auth and gate already passed). */
  const dispatch = (call: GraphCall): Reply => {
    const segments = call.path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const [first, second, third, fourth] = segments;
    const m = call.method;
    if (first === 'users' && segments.length === 1) {
      if (m === 'GET') {
        requireRole(call, false);
        return listUsers(call);
      }
      if (m === 'POST') {
        requireRole(call, true);
        const user = directory.createUser(call.body, lag());
        return okReply(201, userEntity(user, call), call, {
          location: `${baseUrl}/v2/${tenantId}/directoryObjects/${user.id}/Microsoft.DirectoryServices.User`,
          ...quotaHeaders(call),
        });
      }
      throw methodNotAllowed();
    }
    if (first === 'users' && second !== undefined && segments.length === 2) {
      if (m === 'GET') {
        requireRole(call, false);
        const select = parseSelect(call.query.get('$select'), SELECTABLE_USER_PROPERTIES);
        return okReply(200, userEntity(directory.find(second), call, select), call);
      }
      if (m === 'PATCH') {
        requireRole(call, true);
        directory.updateUser(second, call.body, call.app.passwordAdmin ?? true);
        return okReply(204, undefined, call, quotaHeaders(call));
      }
      if (m === 'DELETE') {
        requireRole(call, true);
        directory.deleteUser(second);
        return okReply(204, undefined, call, quotaHeaders(call));
      }
      throw methodNotAllowed();
    }
    if (first === 'users' && second !== undefined && third === 'assignLicense' && segments.length === 3) {
      if (m !== 'POST') throw methodNotAllowed();
      requireRole(call, true);
      const user = directory.assignLicense(second, call.body);
      return okReply(200, userEntity(user, call), call, quotaHeaders(call));
    }
    if (first === 'subscribedSkus' && segments.length === 1) {
      if (m !== 'GET') throw methodNotAllowed();
      requireRole(call, false);
      const usage = directory.skuUsage();
      const value = directory.skus().map((s) => ({
        accountName: domains[0]?.split('.')[0] ?? 'lucyfake',
        accountId: tenantId,
        appliesTo: s.appliesTo ?? 'User',
        capabilityStatus: s.capabilityStatus ?? 'Enabled',
        consumedUnits: usage.find((u) => u.skuId === s.skuId)?.consumed ?? 0,
        id: `${tenantId}_${s.skuId}`,
        prepaidUnits: { enabled: s.seats, suspended: 0, warning: 0, lockedOut: 0 },
        servicePlans: (s.servicePlans ?? []).map((p) => ({
          ...p,
          provisioningStatus: 'Success',
          appliesTo: s.appliesTo ?? 'User',
        })),
        skuId: s.skuId,
        skuPartNumber: s.skuPartNumber,
        subscriptionIds: [`${s.skuId.slice(0, 8)}-0000-4000-8000-${tenantId.slice(-12)}`],
      }));
      return okReply(200, { '@odata.context': context('subscribedSkus'), value }, call);
    }
    if (first === 'directory' && second === 'deletedItems') {
      if (third === 'microsoft.graph.user' && segments.length === 3) {
        if (m !== 'GET') throw methodNotAllowed();
        requireRole(call, false);
        const select = parseSelect(call.query.get('$select'), SELECTABLE_USER_PROPERTIES);
        const page = parsePage(call.query.get('$top'), call.query.get('$skiptoken'));
        const all = directory.deletedUsers();
        const body: Record<string, unknown> = {
          '@odata.context': context('directory/deletedItems/microsoft.graph.user'),
        };
        if (page.offset + page.top < all.length) {
          body['@odata.nextLink'] =
            `${baseUrl}/v1.0/directory/deletedItems/microsoft.graph.user?$top=${page.top}&$skiptoken=${skipToken(page.offset + page.top)}`;
        }
        body.value = all
          .slice(page.offset, page.offset + page.top)
          .map((u) => ({ ...projectUser(u, select, { deleted: true }), deletedDateTime: u.deletedDateTime }));
        return okReply(200, body, call);
      }
      if (third === undefined) {
        throw new GraphFakeError(
          400,
          'Request_BadRequest',
          "Type cast segment is required for the 'deletedItems' collection, e.g. /directory/deletedItems/microsoft.graph.user.",
        );
      }
      if (segments.length === 3) {
        if (m === 'GET') {
          requireRole(call, false);
          const user = directory.findDeleted(third);
          return okReply(
            200,
            {
              '@odata.context': context('directoryObjects/$entity'),
              '@odata.type': '#microsoft.graph.user',
              ...projectUser(user, undefined, { deleted: true }),
              deletedDateTime: user.deletedDateTime,
            },
            call,
          );
        }
        if (m === 'DELETE') {
          requireRole(call, true);
          directory.purge(third);
          return okReply(204, undefined, call, quotaHeaders(call));
        }
        throw methodNotAllowed();
      }
      if (fourth === 'restore' && segments.length === 4) {
        if (m !== 'POST') throw methodNotAllowed();
        requireRole(call, true);
        const user = directory.restore(third);
        return okReply(
          200,
          {
            '@odata.context': context('directoryObjects/$entity'),
            '@odata.type': '#microsoft.graph.user',
            ...projectUser(user, undefined),
            deletedDateTime: null,
          },
          call,
          quotaHeaders(call),
        );
      }
    }
    throw new GraphFakeError(400, 'BadRequest', `Resource not found for the segment '${first ?? ''}'.`);
  };

  /** Gate + dispatch, errors rendered as Graph does. */
  const run = (call: GraphCall): Reply => {
    counts.graph++;
    try {
      const denied = gate(call);
      if (denied) return errorReply(denied, call);
      return dispatch(call);
    } catch (err) {
      if (err instanceof GraphFakeError) return errorReply(err, call);
      throw err;
    }
  };

  const splitUrl = (raw: string): { path: string; query: URLSearchParams } => {
    const q = raw.indexOf('?');
    return q === -1
      ? { path: raw, query: new URLSearchParams() }
      : { path: raw.slice(0, q), query: new URLSearchParams(raw.slice(q + 1)) };
  };

  const batch = (outer: GraphCall): Reply => {
    counts.batch++;
    const bad = (message: string): never => {
      throw new GraphFakeError(400, 'BadRequest', message);
    };
    const body = outer.body as { requests?: unknown } | undefined;
    if (!body || !Array.isArray(body.requests)) bad('Invalid batch payload format.');
    const requests = (body as { requests: unknown[] }).requests;
    if (requests.length === 0) bad('Invalid batch payload format.');
    if (requests.length > MAX_BATCH_REQUESTS) {
      bad(`Number of requests in the batch exceeds the maximum of ${MAX_BATCH_REQUESTS}.`);
    }
    const ids = new Set<string>();
    const items = requests.map((r) => {
      if (typeof r !== 'object' || r === null) return bad('Invalid batch payload format.');
      const item = r as Record<string, unknown>;
      const id =
        typeof item.id === 'string' || typeof item.id === 'number' ? String(item.id) : bad('Id is required.');
      if (ids.has(id)) bad(`Request id '${id}' is duplicated. Ids must be unique in a batch.`);
      ids.add(id);
      if (typeof item.method !== 'string') bad(`Method is required for request id : ${id}.`);
      if (typeof item.url !== 'string' || item.url === '') bad(`Url is required for request id : ${id}.`);
      const headers: Record<string, string> = {};
      if (item.headers !== undefined) {
        if (typeof item.headers !== 'object' || item.headers === null) bad('Invalid batch payload format.');
        for (const [k, v] of Object.entries(item.headers as object)) headers[k.toLowerCase()] = String(v);
      }
      if (item.body !== undefined && headers['content-type'] === undefined) {
        bad(`Write request id : ${id} does not contain Content-Type header or body.`);
      }
      const dependsOn = item.dependsOn === undefined ? [] : item.dependsOn;
      if (
        !Array.isArray(dependsOn) ||
        !dependsOn.every((d) => typeof d === 'string' || typeof d === 'number')
      ) {
        bad('Invalid batch payload format.');
      }
      return {
        id,
        method: (item.method as string).toUpperCase(),
        url: item.url as string,
        headers,
        body: item.body,
        dependsOn: (dependsOn as unknown[]).map(String),
      };
    });
    for (const item of items) {
      for (const dep of item.dependsOn) {
        if (!ids.has(dep) || dep === item.id)
          bad(`Dependent request id '${dep}' of request id '${item.id}' is not found.`);
      }
    }
    const statuses = new Map<string, number>();
    const responses = items.map((item) => {
      const requestId = randomUUID();
      const inner = { requestId, clientRequestId: outer.clientRequestId };
      let reply: Reply;
      const failedDep = item.dependsOn.find((d) => (statuses.get(d) ?? 424) >= 400);
      if (failedDep !== undefined) {
        reply = errorReply(
          new GraphFakeError(424, 'FailedDependency', `Dependent request id '${failedDep}' failed.`),
          inner,
        );
      } else {
        let rel = item.url.startsWith('/') ? item.url : `/${item.url}`;
        if (rel.startsWith('/v1.0/')) rel = rel.slice('/v1.0'.length);
        const { path, query } = splitUrl(rel);
        reply = run({
          method: item.method,
          path,
          query,
          headers: item.headers,
          body: item.body,
          app: outer.app,
          ...inner,
        });
      }
      statuses.set(item.id, reply.status);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(reply.headers ?? {})) {
        if (['content-type', 'retry-after', 'location', 'cache-control', 'odata-version'].includes(k))
          headers[k] = v;
      }
      return {
        id: item.id,
        status: reply.status,
        headers,
        ...(reply.body === undefined ? {} : { body: reply.body }),
      };
    });
    return okReply(200, { responses }, outer);
  };

  const handleGraph = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    search: string,
  ): Promise<void> => {
    const requestId = randomUUID();
    const headerId = req.headers['client-request-id'];
    const ids = {
      requestId,
      clientRequestId: typeof headerId === 'string' && headerId !== '' ? headerId : requestId,
    };
    const text = await readBody(req, MAX_BODY);
    const wait = latency();
    if (wait > 0) await delay(wait);
    const version = path.split('/')[1] ?? '';
    if (version !== 'v1.0') {
      counts.other++;
      return send(res, errorReply(new GraphFakeError(400, 'BadRequest', `Invalid version: ${version}`), ids));
    }
    const auth = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(.*)$/i.exec(auth)?.[1]?.trim() ?? '';
    const check = verifyToken(bearer, apps, tenantId, now());
    if (!check.ok) {
      counts.unauthorized++;
      const reply = errorReply(new GraphFakeError(401, 'InvalidAuthenticationToken', check.message), ids);
      reply.headers = { ...reply.headers, 'www-authenticate': WWW_AUTHENTICATE };
      return send(res, reply);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const call: GraphCall = {
      method: req.method ?? 'GET',
      path: path.slice('/v1.0'.length),
      query: new URLSearchParams(search),
      headers,
      body: undefined,
      app: check.app,
      ...ids,
    };
    try {
      call.body = parseJson(text);
      if (call.path === '/$batch') {
        if (call.method !== 'POST') throw methodNotAllowed();
        return send(res, batch(call));
      }
      return send(res, run(call));
    } catch (err) {
      if (err instanceof GraphFakeError) return send(res, errorReply(err, ids));
      throw err;
    }
  };

  const aadError = (
    status: number,
    error: string,
    code: number,
    message: string,
    correlationId: string,
  ): Reply => {
    const traceId = randomUUID();
    const at = now();
    return {
      status,
      body: {
        error,
        error_description: `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${aadTimestamp(at)}`,
        error_codes: [code],
        timestamp: aadTimestamp(at),
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `https://login.microsoftonline.com/error?code=${code}`,
      },
      headers: { 'x-ms-request-id': traceId, 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
    };
  };

  const tenantNotFound = (tenant: string, correlationId: string): Reply =>
    aadError(
      400,
      'invalid_request',
      90002,
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      correlationId,
    );

  const token = async (req: IncomingMessage, tenant: string, search: string): Promise<Reply> => {
    counts.token++;
    const text = await readBody(req, MAX_BODY);
    const wait = latency();
    if (wait > 0) await delay(wait);
    const form = new URLSearchParams(text);
    const correlationId =
      form.get('client-request-id') ?? new URLSearchParams(search).get('client-request-id') ?? randomUUID();
    const reply = ((): Reply => {
      if (req.method !== 'POST') {
        return aadError(
          400,
          'invalid_request',
          900561,
          'The endpoint only accepts POST requests. Received a GET request.',
          correlationId,
        );
      }
      if (!knownTenant(tenant)) return tenantNotFound(tenant, correlationId);
      const missing = (p: string): Reply =>
        aadError(
          400,
          'invalid_request',
          900144,
          `The request body must contain the following parameter: '${p}'.`,
          correlationId,
        );
      const grant = form.get('grant_type');
      if (!grant) return missing('grant_type');
      if (grant !== 'client_credentials') {
        return aadError(
          400,
          'unsupported_grant_type',
          70003,
          `The app requested an unsupported grant type '${grant}'.`,
          correlationId,
        );
      }
      const clientId = form.get('client_id');
      if (!clientId) return missing('client_id');
      const app = apps.find((a) => a.clientId === clientId);
      if (!app) {
        return aadError(
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${clientId}' was not found in the directory '${domains[0] ?? tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
          correlationId,
        );
      }
      const assertion = form.get('client_assertion');
      const secret = form.get('client_secret');
      if (assertion) {
        if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION) {
          return aadError(
            400,
            'invalid_request',
            90002,
            `The request body must contain client_assertion_type '${JWT_BEARER_ASSERTION}' with a client_assertion.`,
            correlationId,
          );
        }
        const check = verifyClientAssertion(assertion, {
          clientId,
          certificates: certificatesOf(app),
          audiences: [
            `${baseUrl}/${tenantId}/oauth2/v2.0/token`,
            `${baseUrl}/${tenant}/oauth2/v2.0/token`,
            `${baseUrl}/${tenantId}/oauth2/token`,
          ],
          nowMs: now(),
        });
        if (!check.ok) return aadError(401, 'invalid_client', check.aadsts, check.message, correlationId);
      } else if (!secret) {
        return aadError(
          401,
          'invalid_client',
          7000216,
          "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
          correlationId,
        );
      }
      if (!assertion && (app.clientSecret === undefined || secret !== app.clientSecret)) {
        return aadError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${app.clientId}'.`,
          correlationId,
        );
      }
      const scope = form.get('scope');
      if (!scope) return missing('scope');
      const scopes = scope.split(' ').filter((s) => s !== '');
      const graphScope = scopes.find(
        (s) => s === `${GRAPH_RESOURCE}/.default` || s === `${GRAPH_APP_ID}/.default`,
      );
      if (!graphScope) {
        if (scopes.some((s) => !s.endsWith('/.default'))) {
          return aadError(
            400,
            'invalid_scope',
            1002012,
            `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
            correlationId,
          );
        }
        return aadError(
          400,
          'invalid_resource',
          500011,
          `The resource principal named ${scopes[0]?.replace(/\/\.default$/, '') ?? ''} was not found in the tenant named ${domains[0] ?? tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
          correlationId,
        );
      }
      return {
        status: 200,
        body: {
          token_type: 'Bearer',
          expires_in: tokenLifetime,
          ext_expires_in: tokenLifetime,
          access_token: issueToken(app, tenantId, now(), tokenLifetime),
        },
        headers: {
          'cache-control': 'no-store, no-cache',
          pragma: 'no-cache',
          'x-ms-request-id': randomUUID(),
        },
      };
    })();
    if (reply.status !== 200) counts.tokenErrors++;
    return reply;
  };

  const openidConfiguration = (tenant: string): Reply => {
    counts.openidConfiguration++;
    if (!knownTenant(tenant)) return tenantNotFound(tenant, randomUUID());
    const base = `${baseUrl}/${tenantId}`;
    return {
      status: 200,
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: `${baseUrl}/oidc/userinfo`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'tid', 'ver', 'oid'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'SA',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      },
    };
  };

  const api = {
    setFaults(input: FakeGraphFaultsInput): FakeGraphFaults {
      faults = mergeFaults(faults, input);
      return structuredClone(faults);
    },
    clearFaults(): void {
      faults = {};
    },
    setSeats(sku: string, seats: number): void {
      if (!Number.isInteger(seats) || seats < 0)
        throw new FakeInputError('seats must be a non-negative integer');
      if (!directory.setSeats(sku, seats)) throw new FakeInputError(`unknown SKU "${sku}"`);
    },
    user(key: string): FakeGraphUser | undefined {
      const lower = key.toLowerCase();
      const found = [...directory.allUsers(), ...directory.deletedUsers()].find(
        (u) => u.id === lower || u.userPrincipalName.toLowerCase() === lower,
      );
      return found && structuredClone(found);
    },
    users(): FakeGraphUser[] {
      return structuredClone([...directory.allUsers(), ...directory.deletedUsers()]);
    },
    issueToken(clientId?: string): string {
      const app = clientId === undefined ? firstApp : apps.find((a) => a.clientId === clientId);
      if (!app) throw new FakeInputError(`unknown app "${clientId ?? ''}"`);
      return issueToken(app, tenantId, now(), tokenLifetime);
    },
    setClientSecret(secret: string, clientId?: string): void {
      const app = clientId === undefined ? firstApp : apps.find((a) => a.clientId === clientId);
      if (!app) throw new FakeInputError(`unknown app "${clientId ?? ''}"`);
      if (!secret) throw new FakeInputError('the client secret must not be empty');
      app.tokenKeySeed ??= app.clientSecret ?? '';
      app.clientSecret = secret;
    },
    reset(): void {
      faults = {};
      counts = zeroCounts();
      random = mulberry32(options.seed ?? 1);
      writeLog = new Map();
      writesTotal = 0;
      peakWindow = 0;
      directory.reset();
    },
    state(): FakeGraphState {
      const windowByApp: Record<string, number> = {};
      for (const app of apps) windowByApp[app.clientId] = windowWrites(app.clientId).length;
      return {
        tenantId,
        domains: [...domains],
        ...directory.counts(),
        skus: directory.skuUsage(),
        faults: structuredClone(faults),
        requests: { ...counts },
        writes: { limitPer150s: writeLimit, total: writesTotal, windowByApp, peakWindow },
        now: new Date(now()).toISOString(),
      };
    },
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    counts.control++;
    const route = `${req.method ?? 'GET'} ${path.replace(/\/$/, '')}`;
    const input = (): Promise<unknown> => readJsonBody(req, MAX_BODY);
    switch (route) {
      case 'GET /__fake/state':
        return send(res, { status: 200, body: api.state() });
      case 'GET /__fake/users':
        return send(res, { status: 200, body: api.users() });
      case 'POST /__fake/faults':
        return send(res, { status: 200, body: api.setFaults((await input()) as FakeGraphFaultsInput) });
      case 'DELETE /__fake/faults':
        api.clearFaults();
        return send(res, { status: 200, body: {} });
      case 'POST /__fake/reset':
        api.reset();
        return send(res, { status: 200, body: api.state() });
      case 'POST /__fake/seats': {
        const body = (await input()) as { sku?: unknown; seats?: unknown };
        api.setSeats(String(body.sku), Number(body.seats));
        return send(res, { status: 200, body: api.state().skus });
      }
      default:
        return send(res, { status: 404, body: { error: 'unknown control endpoint' } });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const search = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
    try {
      if (path === '/healthz') return send(res, { status: 200, body: { status: 'ok' } });
      if (path === '/' && req.method === 'GET') {
        const page = graphIndexPage(`https://${req.headers.host ?? '127.0.0.1'}`, tenantId, api.state());
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
        return;
      }
      if (path.startsWith('/__fake/')) return await handleControl(req, res, path);
      const aad =
        /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token|discovery\/v2\.0\/keys)$/.exec(
          path,
        );
      if (aad) {
        const tenant = decodeURIComponent(aad[1] ?? '');
        if (aad[2] === 'oauth2/v2.0/token') return send(res, await token(req, tenant, search));
        if (aad[2] === 'discovery/v2.0/keys') return send(res, { status: 200, body: { keys: [] } });
        return send(res, openidConfiguration(tenant));
      }
      if (/^\/(v1\.0|beta|v\d[^/]*)(\/|$)/.test(path)) return await handleGraph(req, res, path, search);
      counts.other++;
      return send(res, { status: 404, body: { error: { code: 'NotFound', message: 'Not Found' } } });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof FakeInputError) {
        return send(res, { status: 400, body: { error: err.message } });
      }
      send(res, { status: 500, body: { error: { code: 'InternalServerError', message: String(err) } } });
    }
  };

  const server: Server = createServer({ cert: tls.cert, key: tls.key, keepAlive: true }, (req, res) => {
    void handle(req, res);
  });
  extendKeepAlive(server);

  const address = await listen(server, options.port, options.host);
  // Listening on every interface: hand out the loopback address, which clients can reach and the certificate names.
  baseUrl = serverOrigin(
    'https',
    address.address === '0.0.0.0' ? { ...address, address: '127.0.0.1' } : address,
  );

  if (options.caFile) {
    await mkdir(dirname(options.caFile), { recursive: true });
    await writeFile(options.caFile, tls.cert, { mode: 0o644 });
  }

  return {
    ...api,
    url: baseUrl,
    port: address.port,
    graphUrl: `${baseUrl}/v1.0`,
    authorityHost: baseUrl,
    tokenUrl: `${baseUrl}/${tenantId}/oauth2/v2.0/token`,
    tenantId,
    caPem: tls.cert,
    caFile: options.caFile,
    app: { ...firstApp },
    close: () => closeServer(server),
  };
}
