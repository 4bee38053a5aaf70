/**
 * Microsoft Graph client of identity-teams: `@microsoft/microsoft-graph-client` authenticated by `@azure/identity`'s
 * ClientSecretCredential (client-credentials flow), with the typed user and licence operations the service needs.
 *
 * Retries are done here, not by the SDK's RetryHandler (switched off per request), so they use the injected clock,
 * are bounded and logged, and cover what the SDK does not: 5xx, network errors, timeouts, directory concurrency
 * conflicts and the 404s of a user this client has just created (Entra replication lag, tens of seconds). Every
 * write first takes a permit from a sliding-window limiter that keeps the app under Graph's 3,000 writes per 150 s.
 *
 * A create retried after a lost response fails with {@link GraphUserExistsError}: the caller checks `employeeId`
 * and treats it as done when the account is the same person's.
 */
import { readFileSync } from 'node:fs';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  type ClientSecretCredentialOptions,
  type TokenCredential,
} from '@azure/identity';
import {
  Client,
  GraphClientError,
  GraphError,
  RetryHandlerOptions,
  type GraphRequest,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import { ConfigError, PermanentError, type Logger } from '@lucy/platform';
import { checkDeletionAllowed, DEFAULT_SAFE_DELETE_PREFIX } from '../domain/deletion-guard.js';
import { backoffDelay, backoffPolicy } from './backoff.js';
import { realClock, type AdapterClock } from './clock.js';
import {
  classifyGraphFailure,
  GRAPH_ERROR,
  type GraphErrorContext,
  type GraphFailure,
} from './graph.errors.js';
import { nullableText, textField } from './json-fields.js';
import { createWriteLimiter, type WriteLimiter } from './write-limiter.js';

/** Graph's public endpoint, version included. */
export const DEFAULT_GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';
/** The token scope of an app-only Graph client. */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

// Hosts the SDK already sends the token to; any other (a fake, a proxy) must be listed in customHosts.
const GRAPH_HOSTS = new Set([
  'graph.microsoft.com',
  'graph.microsoft.us',
  'dod-graph.microsoft.us',
  'microsoftgraph.chinacloudapi.cn',
]);
const MICROSOFT_AUTHORITIES = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
]);

/** Properties read for every user (`usageLocation`, `employeeId`, licences are only returned when selected). */
const USER_SELECT = [
  'id',
  'userPrincipalName',
  'displayName',
  'givenName',
  'surname',
  'mailNickname',
  'employeeId',
  'accountEnabled',
  'usageLocation',
  'assignedLicenses',
];

/** Options of {@link createGraphClient}. */
export interface GraphClientOptions {
  /** Entra tenant id (GRAPH_TENANT_ID). */
  tenantId: string;
  /** App (client) id (GRAPH_CLIENT_ID). */
  clientId: string;
  /**
   * Client secret (GRAPH_CLIENT_SECRET, or the one staff stored); never logged nor put in errors. One of it or
   * `clientCertificate`. A function is read at each token request: a secret replaced there is used from the next
   * Graph call on (the tokens of the old one are dropped with its credential).
   */
  clientSecret?: string | (() => string);
  /**
   * Certificate credential instead of the secret: a PEM with the private key and the certificate registered on the
   * app, as a file (GRAPH_CLIENT_CERTIFICATE_PATH) or the text (GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY). The token
   * request carries a client assertion signed with the key (ClientCertificateCredential); the key never leaves.
   */
  clientCertificate?: { path: string } | { pem: string };
  /**
   * Token authority, https only (GRAPH_AUTHORITY_HOST); default Entra's public cloud. A host other than Microsoft's
   * turns instance discovery off, which would otherwise ask login.microsoftonline.com.
   */
  authorityHost?: string;
  /** Graph URL with its version (GRAPH_BASE_URL), https only; default {@link DEFAULT_GRAPH_BASE_URL}. */
  baseUrl?: string;
  /** Per-attempt timeout in ms; default 30,000. */
  timeoutMs?: number;
  /** Retries after the first attempt for 429/5xx/network/timeouts; default 5. */
  maxRetries?: number;
  /** Longest `Retry-After` waited for, in ms; a longer one ends the call as throttled; default 120,000. */
  maxRetryAfterMs?: number;
  /** First backoff when no `Retry-After` came, in ms, doubled per retry with jitter (50–100 %); default 1,000. */
  backoffMs?: number;
  /** Cap of one backoff, in ms; default 30,000. */
  maxBackoffMs?: number;
  /** How long a user this client created may answer 404 (replication lag), in ms; default 60,000. */
  replicationWaitMs?: number;
  /** Writes per window (GRAPH_WRITES_PER_WINDOW); default 3,000. Ignored when `writeLimiter` is given. */
  writesPerWindow?: number;
  /** Window of the write limit in ms; default 150,000. */
  writeWindowMs?: number;
  /** A limiter shared with other clients of the same app, instead of one of its own. */
  writeLimiter?: WriteLimiter;
  /** Usage location set on every created user (ISO 3166 alpha-2); default `AR`. */
  usageLocation?: string;
  /** Only UPNs starting with it may be deleted (GRAPH_SAFE_DELETE_PREFIX); default `test-`. */
  safeDeletePrefix?: string;
  /** Default the wall clock. */
  clock?: AdapterClock;
  /** Uniform [0, 1) source for the backoff jitter; default Math.random. */
  random?: () => number;
  /** Retries are logged at `warn` (operation, status, code, request id, delay); bodies never are. */
  logger?: Logger;
}

/** A licence held by a user. */
export interface GraphAssignedLicense {
  skuId: string;
  disabledPlans: string[];
}

/** A user as this client reads it. */
export interface GraphUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  mailNickname: string | null;
  employeeId: string | null;
  accountEnabled: boolean | null;
  usageLocation: string | null;
  assignedLicenses: GraphAssignedLicense[];
}

/** What {@link GraphClient.createUser} needs. */
export interface NewGraphUser {
  userPrincipalName: string;
  displayName: string;
  mailNickname: string;
  givenName?: string;
  surname?: string;
  /** The alumno's DNI: how the account is matched back to its person. */
  employeeId: string;
  /** Temporary password; the user must change it at first sign-in. */
  password: string;
}

/** A subscribed SKU with its free seats. */
export interface GraphSku {
  skuId: string;
  skuPartNumber: string;
  appliesTo: string;
  capabilityStatus: string;
  consumedUnits: number;
  enabledUnits: number;
  /** `prepaidUnits.enabled - consumedUnits`, never below 0. */
  available: number;
}

/** The Graph operations of identity-teams. Failures are TransientError or PermanentError (see graph.errors). */
export interface GraphClient {
  /** The user with this UPN (or object id), or null when there is none. */
  findUserByUpn(upn: string): Promise<GraphUser | null>;
  /** Users whose employeeId (DNI) is this one: normally zero or one. */
  findUsersByEmployeeId(employeeId: string): Promise<GraphUser[]>;
  /**
   * Both lookups an activation starts with, in one JSON batch (`POST /$batch`, one HTTP round trip instead of
   * two): the user under the UPN (null when none) and the users with the employeeId.
   */
  lookupAccount(
    upn: string,
    employeeId: string,
  ): Promise<{ byUpn: GraphUser | null; byEmployeeId: GraphUser[] }>;
  /** Creates an enabled user that must change its password, with the usage location set (licences need it). */
  createUser(user: NewGraphUser): Promise<GraphUser>;
  /** The tenant's subscribed SKUs. Costs Graph 3 resource units: read it once per run. */
  listSubscribedSkus(): Promise<GraphSku[]>;
  /** The SKU with this part number (e.g. `STANDARDWOFFPACK_STUDENT`); PermanentError naming the ones there are. */
  resolveSku(skuPartNumber: string): Promise<GraphSku>;
  /** Adds a licence (both arrays are always sent, as Graph requires). */
  assignLicense(userId: string, skuId: string, options?: { disabledPlans?: string[] }): Promise<void>;
  /** Sets a new password (PATCH passwordProfile); needs the User Administrator role. */
  resetPassword(userId: string, password: string, options?: { forceChange?: boolean }): Promise<void>;
  /**
   * Soft-deletes a user by UPN (restorable for 30 days). Refused with a PermanentError unless the UPN starts with
   * the safe prefix. Resolves `not_found` when there was no such user.
   */
  deleteUser(upn: string): Promise<'deleted' | 'not_found'>;
  /** Soft-deleted users (first 999). Their UPN carries the object id as a prefix, as in Entra. */
  listDeletedUsers(): Promise<GraphUser[]>;
  /** Restores a soft-deleted user by object id. */
  restoreUser(id: string): Promise<GraphUser>;
  /** Writes counted in the current window (for metrics and tests). */
  writesInWindow(): number;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** One logical Graph call. */
interface CallSpec {
  method: Method;
  path: string;
  body?: unknown;
  select?: string[];
  filter?: string;
  top?: number;
  /** For messages and logs. */
  context: Omit<GraphErrorContext, 'attempts'>;
  /** Keys (id, UPN) of the user addressed, to recognise replication-lag 404s. */
  userKeys?: string[];
  /** Whether it takes a write permit; default every method but GET (a batch of reads takes none). */
  write?: boolean;
}

/** One response inside a JSON batch. */
interface BatchResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Turns what the SDK threw into a failure, or undefined for errors that are not Graph's (rethrown). */
function toFailure(err: unknown): GraphFailure | undefined {
  if (err instanceof GraphError) {
    let detailCodes: string[] = [];
    if (err.statusCode > 0 && typeof err.body === 'string') {
      try {
        const body = JSON.parse(err.body) as { details?: { code?: unknown }[] };
        detailCodes = (body.details ?? []).map((d) => textField(d.code));
      } catch {
        // Not a Graph error body: the status and code are enough.
      }
    }
    return {
      status: err.statusCode,
      code: err.code ?? 'Unknown',
      message: err.message,
      requestId: err.requestId ?? undefined,
      detailCodes,
    };
  }
  if (err instanceof GraphClientError) {
    return {
      status: -1,
      code: 'GraphClientError',
      message: err.message,
      requestId: undefined,
      detailCodes: [],
    };
  }
  return undefined;
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date), or undefined. */
export function retryAfterMs(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const mapUser = (raw: Record<string, unknown>): GraphUser => ({
  id: textField(raw.id),
  userPrincipalName: textField(raw.userPrincipalName),
  displayName: textField(raw.displayName),
  givenName: nullableText(raw.givenName),
  surname: nullableText(raw.surname),
  mailNickname: nullableText(raw.mailNickname),
  employeeId: nullableText(raw.employeeId),
  accountEnabled: typeof raw.accountEnabled === 'boolean' ? raw.accountEnabled : null,
  usageLocation: nullableText(raw.usageLocation),
  assignedLicenses: ((raw.assignedLicenses as GraphAssignedLicense[] | undefined) ?? []).map((l) => ({
    skuId: l.skuId,
    disabledPlans: [...(l.disabledPlans ?? [])],
  })),
});

const odataString = (value: string): string => `'${value.replaceAll("'", "''")}'`;

/**
 * The PEM of a certificate credential (file or text), checked to hold a private key and a certificate; a ConfigError
 * names the variable (never the content).
 */
function readCertificatePem(source: { path: string } | { pem: string }): string {
  const variable =
    'path' in source ? 'GRAPH_CLIENT_CERTIFICATE_PATH' : 'GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY';
  let pem: string;
  if ('path' in source) {
    try {
      pem = readFileSync(source.path, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `${variable}: no se puede leer ${source.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  } else {
    pem = source.pem;
  }
  if (
    !/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem) ||
    !pem.includes('-----BEGIN CERTIFICATE-----')
  ) {
    throw new ConfigError(
      `${variable}: debe ser un PEM con la clave privada y el certificado registrado en la aplicación de Entra ID`,
    );
  }
  return pem;
}

/** Parses an https URL option or throws a ConfigError naming the variable. */
function httpsUrl(value: string, variable: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${variable} no es una URL válida`);
  }
  if (url.protocol !== 'https:') {
    throw new ConfigError(`${variable} debe usar https:// (Graph y Entra ID no aceptan http)`);
  }
  return url;
}

const secretOf = (secret: string | (() => string) | undefined): string =>
  (typeof secret === 'function' ? secret() : secret) ?? '';

/**
 * A credential over the secret `current()` returns at each token request: while it stays the same, one
 * credential (and its token cache) serves every call; once it changes, a new credential is built, so the next
 * token is asked for with the new secret and no token of the old one is used again.
 */
export function rotatingSecretCredential(
  current: () => string,
  build: (secret: string) => TokenCredential,
): TokenCredential {
  let secret: string | undefined;
  let credential: TokenCredential | undefined;
  return {
    getToken(scopes, options) {
      const now = current();
      if (!credential || now !== secret) {
        secret = now;
        credential = build(now);
      }
      return credential.getToken(scopes, options);
    },
  };
}

/**
 * Creates the Graph client. Nothing is requested until the first operation.
 * @throws ConfigError when a URL is not https or the credentials are blank.
 */
export function createGraphClient(options: GraphClientOptions): GraphClient {
  for (const [name, value] of [
    ['GRAPH_TENANT_ID', options.tenantId],
    ['GRAPH_CLIENT_ID', options.clientId],
    ...(options.clientCertificate ? [] : [['GRAPH_CLIENT_SECRET', secretOf(options.clientSecret)] as const]),
  ] as const) {
    if (!value?.trim()) throw new ConfigError(`Falta ${name}`);
  }
  const certificatePem = options.clientCertificate
    ? readCertificatePem(options.clientCertificate)
    : undefined;
  const base = httpsUrl(options.baseUrl ?? DEFAULT_GRAPH_BASE_URL, 'GRAPH_BASE_URL');
  const segments = base.pathname.split('/').filter(Boolean);
  const version = segments.pop() ?? 'v1.0';
  const credentialOptions: ClientSecretCredentialOptions = {};
  if (options.authorityHost !== undefined) {
    const authority = httpsUrl(options.authorityHost, 'GRAPH_AUTHORITY_HOST');
    credentialOptions.authorityHost = authority.origin;
    credentialOptions.disableInstanceDiscovery = !MICROSOFT_AUTHORITIES.has(authority.hostname);
  }
  const credential: TokenCredential = certificatePem
    ? new ClientCertificateCredential(
        options.tenantId,
        options.clientId,
        { certificate: certificatePem },
        credentialOptions,
      )
    : rotatingSecretCredential(
        () => secretOf(options.clientSecret),
        (secret) => new ClientSecretCredential(options.tenantId, options.clientId, secret, credentialOptions),
      );
  const sdk = Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential, { scopes: [GRAPH_SCOPE] }),
    baseUrl: `${base.origin}/${segments.map((s) => `${s}/`).join('')}`,
    defaultVersion: version,
    // Hostname only: without it the SDK silently sends no Authorization header to a non-Graph host.
    ...(GRAPH_HOSTS.has(base.hostname) ? {} : { customHosts: new Set([base.hostname]) }),
  });

  const clock = options.clock ?? realClock;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxRetries = options.maxRetries ?? 5;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 120_000;
  const policy = backoffPolicy(options, { backoffMs: 1000, maxBackoffMs: 30_000 });
  const replicationWaitMs = options.replicationWaitMs ?? 60_000;
  const usageLocation = options.usageLocation ?? 'AR';
  const safeDeletePrefix = options.safeDeletePrefix ?? DEFAULT_SAFE_DELETE_PREFIX;
  const limiter =
    options.writeLimiter ??
    createWriteLimiter({ limit: options.writesPerWindow, windowMs: options.writeWindowMs, clock });
  if (!/^[A-Z]{2}$/.test(usageLocation)) {
    throw new ConfigError(
      'La ubicación de uso debe ser un código de país de dos letras mayúsculas (p. ej. AR)',
    );
  }
  // Users this client created, by id and by UPN (lower case): their 404s are replication lag for a while. A user
  // deleted through this client is forgotten, so its 404s are final at once.
  const created = new Map<string, { at: number; keys: string[] }>();
  const forget = (key: string): void => {
    for (const k of created.get(key.toLowerCase())?.keys ?? []) created.delete(k);
  };
  const noSdkRetries = new RetryHandlerOptions(0, 0);

  const backoff = (retry: number): number => backoffDelay(retry, policy);

  const replicationLagLeft = (keys: readonly string[] | undefined): number => {
    const now = clock.now();
    for (const [key, entry] of created) if (now - entry.at > replicationWaitMs) created.delete(key);
    const at = Math.max(-Infinity, ...(keys ?? []).map((k) => created.get(k.toLowerCase())?.at ?? -Infinity));
    return at + replicationWaitMs - now;
  };

  /** The wait before the next attempt, or undefined when the failure is final. */
  const nextDelay = (
    f: GraphFailure,
    spec: CallSpec,
    retries: number,
    lagRetries: number,
  ): number | undefined => {
    if (f.status === 404) {
      const left = replicationLagLeft(spec.userKeys);
      return left > 0 ? Math.min(left, Math.min(10_000, policy.backoffMs * 2 ** lagRetries)) : undefined;
    }
    if (retries >= maxRetries) return undefined;
    if (f.status === 429 || f.status === 503 || f.status === 504) {
      const asked = retryAfterMs(f.retryAfter, clock.now());
      if (asked !== undefined) return asked <= maxRetryAfterMs ? asked : undefined;
      return backoff(retries + 1);
    }
    const retryable =
      f.status >= 500 ||
      (f.status === 409 && f.code === 'Directory_ConcurrencyViolation') ||
      (f.status <= 0 && !/AADSTS\d+/.test(f.message));
    return retryable ? backoff(retries + 1) : undefined;
  };

  const once = (spec: CallSpec): Promise<unknown> => {
    let request: GraphRequest = sdk
      .api(spec.path)
      .middlewareOptions([noSdkRetries])
      .option('signal', AbortSignal.timeout(timeoutMs));
    if (spec.select) request = request.select(spec.select);
    if (spec.filter !== undefined) request = request.filter(spec.filter);
    if (spec.top !== undefined) request = request.top(spec.top);
    switch (spec.method) {
      case 'GET':
        return request.get() as Promise<unknown>;
      case 'POST':
        return request.post(spec.body) as Promise<unknown>;
      case 'PATCH':
        return request.patch(spec.body) as Promise<unknown>;
      case 'DELETE':
        return request.delete() as Promise<unknown>;
    }
  };

  const call = async (spec: CallSpec): Promise<unknown> => {
    let retries = 0;
    let lagRetries = 0;
    for (let attempts = 1; ; attempts++) {
      if (spec.write ?? spec.method !== 'GET') await limiter.acquire();
      try {
        return await once(spec);
      } catch (err) {
        const failure = toFailure(err);
        if (!failure) throw err;
        if (err instanceof GraphError) failure.retryAfter = err.headers?.get('retry-after') ?? undefined;
        const delayMs = nextDelay(failure, spec, retries, lagRetries);
        if (delayMs === undefined) throw classifyGraphFailure(failure, { ...spec.context, attempts });
        if (failure.status === 404) lagRetries++;
        else retries++;
        options.logger?.warn(
          {
            graph: {
              operation: `${spec.method} ${spec.path.split('?')[0]}`,
              status: failure.status,
              code: failure.code,
              requestId: failure.requestId,
              attempt: attempts,
              delayMs,
            },
          },
          `Microsoft Graph: reintento ${attempts} al ${spec.context.action} en ${delayMs} ms (${failure.code})`,
        );
        await clock.sleep(delayMs);
      }
    }
  };

  const userPath = (key: string): string => `/users/${encodeURIComponent(key)}`;
  const selectQuery = `$select=${USER_SELECT.join(',')}`;

  /** A failed response inside a batch, as the failure a direct call would have had. */
  const batchFailure = (r: BatchResponse): GraphFailure => {
    const error = (
      r.body as { error?: { code?: unknown; message?: unknown; details?: { code?: unknown }[] } }
    )?.error;
    const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      status: r.status,
      code: textField(error?.code) || 'Unknown',
      message: textField(error?.message),
      requestId: headers['request-id'],
      detailCodes: (error?.details ?? []).map((d) => textField(d.code)),
      retryAfter: headers['retry-after'],
    };
  };

  /**
   * Reads in one batch, retried as a whole (they are reads) when one of them is throttled or failed on Graph's
   * side, with the same policy as a single call. Answers by request id; a 404 is given back for the caller.
   */
  const readBatch = async (
    requests: { id: string; url: string; userKeys?: string[] }[],
    context: Omit<GraphErrorContext, 'attempts'>,
  ): Promise<Map<string, BatchResponse>> => {
    let retries = 0;
    for (let attempts = 1; ; attempts++) {
      const raw = (await call({
        method: 'POST',
        path: '/$batch',
        body: { requests: requests.map((r) => ({ id: r.id, method: 'GET', url: r.url })) },
        context,
        write: false,
      })) as { responses?: BatchResponse[] };
      const byId = new Map((raw.responses ?? []).map((r) => [String(r.id), r]));
      let delayMs: number | undefined;
      let final: GraphFailure | undefined;
      for (const req of requests) {
        const r = byId.get(req.id);
        if (!r) {
          final = {
            status: 502,
            code: 'BatchResponseMissing',
            message: `sin respuesta para ${req.id}`,
            requestId: undefined,
            detailCodes: [],
          };
          break;
        }
        if (r.status < 300 || r.status === 404) continue;
        const f = batchFailure(r);
        const d = nextDelay(f, { method: 'GET', path: req.url, context }, retries, 0);
        if (d === undefined) {
          final = f;
          break;
        }
        delayMs = Math.max(delayMs ?? 0, d);
      }
      if (final) throw classifyGraphFailure(final, { ...context, attempts });
      if (delayMs === undefined) return byId;
      retries++;
      options.logger?.warn(
        { graph: { operation: 'POST /$batch', attempt: attempts, delayMs } },
        `Microsoft Graph: reintento ${attempts} al ${context.action} en ${delayMs} ms (lote)`,
      );
      await clock.sleep(delayMs);
    }
  };

  return {
    async findUserByUpn(upn) {
      try {
        const raw = await call({
          method: 'GET',
          path: userPath(upn),
          select: USER_SELECT,
          context: { action: `buscar la cuenta ${upn}`, upn },
          userKeys: [upn],
        });
        return mapUser(raw as Record<string, unknown>);
      } catch (err) {
        if (err instanceof PermanentError && err.code === GRAPH_ERROR.notFound) return null;
        throw err;
      }
    },

    async findUsersByEmployeeId(employeeId) {
      const raw = (await call({
        method: 'GET',
        path: '/users',
        select: USER_SELECT,
        filter: `employeeId eq ${odataString(employeeId)}`,
        context: { action: `buscar cuentas con employeeId ${employeeId}` },
      })) as { value: Record<string, unknown>[] };
      return raw.value.map(mapUser);
    },

    async lookupAccount(upn, employeeId) {
      const responses = await readBatch(
        [
          { id: 'upn', url: `${userPath(upn)}?${selectQuery}` },
          {
            id: 'employeeId',
            url: `/users?$filter=${encodeURIComponent(`employeeId eq ${odataString(employeeId)}`)}&${selectQuery}`,
          },
        ],
        { action: `buscar la cuenta ${upn} y las de employeeId ${employeeId}`, upn },
      );
      const byUpn = responses.get('upn')!;
      const byEmployeeId = responses.get('employeeId')!;
      if (byEmployeeId.status === 404) {
        throw classifyGraphFailure(batchFailure(byEmployeeId), {
          action: `buscar cuentas con employeeId ${employeeId}`,
          attempts: 1,
        });
      }
      return {
        byUpn: byUpn.status === 404 ? null : mapUser(byUpn.body as Record<string, unknown>),
        byEmployeeId: ((byEmployeeId.body as { value?: Record<string, unknown>[] }).value ?? []).map(mapUser),
      };
    },

    async createUser(user) {
      const upn = user.userPrincipalName;
      const raw = (await call({
        method: 'POST',
        path: '/users',
        body: {
          accountEnabled: true,
          displayName: user.displayName,
          mailNickname: user.mailNickname,
          userPrincipalName: upn,
          ...(user.givenName ? { givenName: user.givenName } : {}),
          ...(user.surname ? { surname: user.surname } : {}),
          employeeId: user.employeeId,
          // Set at creation: assignLicense fails for a user without it.
          usageLocation,
          passwordProfile: { forceChangePasswordNextSignIn: true, password: user.password },
        },
        context: { action: `crear la cuenta ${upn}`, upn },
      })) as Record<string, unknown>;
      const entry = { at: clock.now(), keys: [textField(raw.id).toLowerCase(), upn.toLowerCase()] };
      for (const key of entry.keys) created.set(key, entry);
      // The create answer carries only the default properties: complete it from what was sent.
      return mapUser({
        ...raw,
        employeeId: user.employeeId,
        usageLocation,
        accountEnabled: true,
        mailNickname: user.mailNickname,
      });
    },

    async listSubscribedSkus() {
      const raw = (await call({
        method: 'GET',
        path: '/subscribedSkus',
        context: { action: 'leer las licencias del tenant' },
      })) as { value: Record<string, unknown>[] };
      return raw.value.map((s) => {
        const enabledUnits = Number((s.prepaidUnits as { enabled?: number } | undefined)?.enabled ?? 0);
        const consumedUnits = Number(s.consumedUnits ?? 0);
        return {
          skuId: textField(s.skuId),
          skuPartNumber: textField(s.skuPartNumber),
          appliesTo: textField(s.appliesTo),
          capabilityStatus: textField(s.capabilityStatus),
          consumedUnits,
          enabledUnits,
          available: Math.max(0, enabledUnits - consumedUnits),
        };
      });
    },

    async resolveSku(skuPartNumber) {
      const skus = await this.listSubscribedSkus();
      const sku = skus.find((s) => s.skuPartNumber.toLowerCase() === skuPartNumber.toLowerCase());
      if (!sku) {
        const known = skus.map((s) => s.skuPartNumber).join(', ') || 'ninguna';
        throw new PermanentError(
          `El tenant no tiene la licencia ${skuPartNumber}; licencias disponibles: ${known}. Revise la licencia configurada para alumnos.`,
          { code: GRAPH_ERROR.skuNotFound, detalles: { sku: skuPartNumber, disponibles: known } },
        );
      }
      return sku;
    },

    async assignLicense(userId, skuId, licenceOptions) {
      await call({
        method: 'POST',
        path: `${userPath(userId)}/assignLicense`,
        body: {
          addLicenses: [{ skuId, disabledPlans: licenceOptions?.disabledPlans ?? [] }],
          removeLicenses: [],
        },
        context: { action: `asignar la licencia a ${userId}`, sku: skuId },
        userKeys: [userId],
      });
    },

    async resetPassword(userId, password, resetOptions) {
      await call({
        method: 'PATCH',
        path: userPath(userId),
        body: {
          passwordProfile: { password, forceChangePasswordNextSignIn: resetOptions?.forceChange ?? true },
        },
        context: { action: `resetear la contraseña de ${userId}` },
        userKeys: [userId],
      });
    },

    async deleteUser(upn) {
      const verdict = checkDeletionAllowed(upn, safeDeletePrefix);
      if (!verdict.allowed) {
        throw new PermanentError(verdict.reason, { code: GRAPH_ERROR.deletionRefused, detalles: { upn } });
      }
      try {
        await call({
          method: 'DELETE',
          path: userPath(upn),
          context: { action: `eliminar la cuenta ${upn}`, upn },
          userKeys: [upn],
        });
        forget(upn);
        return 'deleted';
      } catch (err) {
        if (err instanceof PermanentError && err.code === GRAPH_ERROR.notFound) return 'not_found';
        throw err;
      }
    },

    async listDeletedUsers() {
      const raw = (await call({
        method: 'GET',
        path: '/directory/deletedItems/microsoft.graph.user',
        select: USER_SELECT,
        top: 999,
        context: { action: 'listar las cuentas eliminadas' },
      })) as { value: Record<string, unknown>[] };
      return raw.value.map(mapUser);
    },

    async restoreUser(id) {
      const raw = (await call({
        method: 'POST',
        path: `/directory/deletedItems/${encodeURIComponent(id)}/restore`,
        body: {},
        context: { action: `restaurar la cuenta eliminada ${id}` },
      })) as Record<string, unknown>;
      return mapUser(raw);
    },

    writesInWindow: () => limiter.inWindow(),
  };
}
