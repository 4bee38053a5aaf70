/**
 * HTTP client of the SIAL web service (guide "Servicios Web V2"): HTTP Basic, JSON arrays, dates in the path as
 * AAAAMMDDHHMM in SIAL's local time. Unlike the original it retries transient failures with backoff, can be
 * rate-limited, times out every attempt, and formats dates in Córdoba time rather than UTC.
 *
 * Connections: Node 20's global fetch is undici, whose global dispatcher pools connections per origin with
 * keep-alive by default, so thousands of personal-data calls reuse a few sockets. Node 20 does not expose
 * undici's `Agent` constructor without the `undici` package (not a dependency here); a caller that has a
 * dispatcher can pass it as `dispatcher`.
 *
 * Lists are read as a stream ({@link SialClient.listarEach}): the body is split into records by
 * {@link JsonArraySplitter} while it arrives and each record is parsed and handed over on its own, so a 100,000-record
 * list (27 MB of text) never exists as one string nor as one parsed array. Personal data (a few hundred bytes) is
 * read as text.
 */
import { ESTADO_FOR_TIPO, isPlainObject, isTipo, localParts, type Tipo } from '../domain/index.js';
import { ingestMetrics } from '../metrics.js';
import { systemClock, type Clock } from './clock.js';
import { JsonArraySplitter, JsonArraySyntaxError } from './json-array-splitter.js';
import { createTokenBucket, unlimited } from './rate-limiter.js';
import {
  SialAuthError,
  SialConnectionError,
  SialHttpError,
  SialResponseError,
  type SialError,
} from './sial.errors.js';

/** Base path of every SIAL endpoint. */
export const SIAL_BASE_PATH = '/webservice/sial/V2/04';

/** Options of {@link createSialClient}. */
export interface SialClientOptions {
  /** e.g. `https://sisinfo.unrc.edu.ar`; a trailing `/` is ignored. Must not embed credentials. */
  baseUrl: string;
  /** HTTP Basic user (with `password`), when the credentials are fixed; else give `credentials`. */
  user?: string;
  /** HTTP Basic password; never logged nor put in errors. */
  password?: string;
  /**
   * The HTTP Basic credentials, read at each request (retries included), so credentials replaced meanwhile are
   * sent from the next request on. Wins over `user`/`password`.
   */
  credentials?: () => SialCredentials;
  /** Per-attempt timeout covering headers and body, in ms; default 30,000 (the original's 30 s). */
  timeoutMs?: number;
  /** Retries after the first attempt, for network errors, timeouts and 5xx only; default 3. */
  retries?: number;
  /** First backoff delay in ms, doubled each retry, with jitter (50–100 % of the delay); default 500. */
  backoffMs?: number;
  /** Cap of a single backoff delay, in ms; default 10,000. */
  maxBackoffMs?: number;
  /** Token-bucket limit on requests sent (retries included); undefined (default) = unlimited. */
  requestsPerSecond?: number;
  /** Requests that may go out back to back under `requestsPerSecond`; default 1. */
  burst?: number;
  /** Time zone SIAL reads path dates in; default `America/Argentina/Cordoba`. */
  timeZone?: string;
  /** Default the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** An undici dispatcher (connection pool) for fetch; default undici's global keep-alive pool. */
  dispatcher?: RequestInit['dispatcher'];
  /** Clock for the rate limiter and backoff; default the system clock. */
  clock?: Clock;
  /** Uniform [0, 1) source for the jitter; default Math.random. */
  random?: () => number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (info: { path: string; attempt: number; delayMs: number; error: SialError }) => void;
}

/** HTTP Basic credentials of one request, and where they come from (named when SIAL refuses them). */
export interface SialCredentials {
  user: string;
  /** Never logged nor put in errors. */
  password: string;
  /** `personal`: stored by staff in the Configuración; `despliegue`: SIAL_USER/SIAL_PASSWORD. */
  origin?: 'personal' | 'despliegue';
}

/** Per-call options. */
export interface SialCallOptions {
  /** Aborts the call, its retries and any wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Which records to list: none → the full list `/listas/`; `desde` → modified at or after it (`/listas/{desde}`);
 * `desde` and `hasta` → modified in [desde, hasta] (`/listas/{desde}/{hasta}`). `hasta` alone is rejected, not
 * silently widened to the full list as the original did.
 */
export interface SialListRange {
  desde?: Date;
  hasta?: Date;
}

/**
 * Receives the records of one list response as they arrive ({@link SialClient.listarEach}). A new sink is made for
 * every attempt, so a retry after a response that broke off half-way starts from an empty one.
 */
export interface SialListSink<T> {
  /**
   * One record: its parsed (unvalidated) JSON value, its UTF-8 JSON text — valid only during the call, copy what
   * must be kept — and its 0-based position in the list.
   */
  record(value: unknown, json: Uint8Array, position: number): void;
  /** The list ended well after `count` records: what `listarEach` resolves with. */
  end(count: number): T;
}

/** The SIAL client. Results are unvalidated JSON: validate them with the domain's parsers. */
export interface SialClient {
  /** Records of a tipo list: the raw JSON array (built whole: for small lists and tests). */
  listar(tipo: Tipo, range?: SialListRange, options?: SialCallOptions): Promise<unknown[]>;
  /**
   * Records of a tipo list, streamed: each attempt creates a sink with `sink()` and feeds it every record while
   * the body arrives; resolves with the last attempt's `end`. Failures are the same as `listar`'s, including
   * "the body is not valid JSON" for a syntax error anywhere in it (records before it were already handed over).
   */
  listarEach<T>(
    tipo: Tipo,
    range: SialListRange | undefined,
    sink: () => SialListSink<T>,
    options?: SialCallOptions,
  ): Promise<T>;
  /** The personal-data object of a document number, or null when SIAL returns `[]` (unknown nrodoc). */
  datosPersonales(
    nrodoc: string | number,
    options?: SialCallOptions,
  ): Promise<Record<string, unknown> | null>;
  /** The path `listar` requests for these arguments (for Tarea detalles and logs). */
  listPath(tipo: Tipo, range?: SialListRange): string;
}

/**
 * `AAAAMMDDHHMM` of an instant in `timeZone` (default Córdoba): 2026-01-15T13:05Z → `202601151005`.
 * The original formatted UTC here, shifting every window by three hours.
 */
export function formatSialDate(date: Date, timeZone = 'America/Argentina/Cordoba'): string {
  const p = localParts(date, timeZone);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${String(p.year).padStart(4, '0')}${two(p.month)}${two(p.day)}${two(p.hour)}${two(p.minute)}`;
}

/** Why one attempt failed; turned into a public SialError once the retries are over. */
type AttemptFailure =
  | { kind: 'timeout'; cause: unknown }
  | { kind: 'network'; cause: unknown }
  | { kind: 'auth'; user: string; origin: SialCredentials['origin'] }
  | { kind: 'http'; status: number; detail: string | undefined }
  | { kind: 'response'; detail: string; cause?: unknown; malformed?: boolean };

class AttemptError extends Error {
  constructor(readonly failure: AttemptFailure) {
    super(failure.kind);
  }
}

/** The SIAL endpoints, as the `endpoint` label of the request metrics. */
type Endpoint = 'lista' | 'datospersonales';

/**
 * The `status` label of one request: the HTTP status when SIAL answered (and the body was read), else the failure's
 * class (`timeout`, `network`, `invalid_response`, `aborted` by the caller, `other`). Never a message or a path.
 */
function requestStatus(status: number | undefined, error: unknown, aborted: boolean): string {
  if (error === undefined) return String(status);
  if (error instanceof AttemptError) {
    switch (error.failure.kind) {
      case 'http':
        return String(error.failure.status);
      case 'auth':
        return '401';
      case 'response':
        return 'invalid_response';
      case 'timeout':
      case 'network':
        return error.failure.kind;
    }
  }
  return aborted ? 'aborted' : 'other';
}

const isRetryable = (f: AttemptFailure): boolean =>
  f.kind === 'timeout' ||
  f.kind === 'network' ||
  (f.kind === 'http' && f.status >= 500) ||
  (f.kind === 'response' && f.malformed === true);

/** A short, password-free description of a fetch network failure: "connect ECONNREFUSED 127.0.0.1:8088". */
function networkDetail(err: unknown): string {
  let current: unknown = err;
  let best = 'error de red';
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (current.message && current.message !== 'fetch failed') best = current.message;
    else if (typeof code === 'string') best = code;
    if (current instanceof AggregateError && current.errors[0] instanceof Error) current = current.errors[0];
    else current = current.cause;
  }
  return best;
}

function detailOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (isPlainObject(body) && typeof body.detail === 'string') return body.detail;
  } catch {
    // Not JSON: the status alone says enough.
  }
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return htmlPage(trimmed) ?? trimmed.slice(0, 200).replace(/\s+/g, ' ');
}

/**
 * A reverse proxy's error page, named by its title («502 Bad Gateway»): the title says enough, the markup does not
 * belong in a Tarea. Undefined when the text is not an HTML page.
 */
function htmlPage(text: string): string | undefined {
  const trimmed = text.trim();
  if (!/^<(!doctype|html)/i.test(trimmed)) return undefined;
  const title = /<title>([^<]{0,120})<\/title>/i.exec(trimmed.slice(0, 2000))?.[1]?.trim();
  return `una página HTML${title ? ` «${title}»` : ''}, probablemente de un proxy`;
}

/** Bytes of a list body kept for the message of a malformed one. */
const HEAD_BYTES = 512;

/** A record of a streamed list that JSON.parse rejected (its SyntaxError is the cause). */
class RecordSyntaxError extends Error {
  constructor(cause: unknown) {
    super('record syntax', { cause });
  }
}

/** The failure of a body that is not valid JSON, quoting its start: «[{"tipodoc": "DNI", "nrodoc": 4012». */
function invalidJson(text: string, cause: unknown): AttemptError {
  const sample = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  const page = htmlPage(text);
  return new AttemptError({
    kind: 'response',
    detail: page ? `el cuerpo no es JSON sino ${page}` : `el cuerpo no es JSON válido («${sample}»)`,
    cause,
    malformed: true,
  });
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'una lista';
  if (typeof value === 'object') return 'un objeto';
  return `un valor de tipo ${typeof value}`;
}

/**
 * Creates a SIAL client.
 * @throws TypeError when `baseUrl` is not an http(s) URL or embeds credentials.
 */
export function createSialClient(options: SialClientOptions): SialClient {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new TypeError('La URL base de SIAL no es válida');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError('La URL base de SIAL debe empezar con http:// o https://');
  }
  if (base.username || base.password) {
    throw new TypeError(
      'La URL base de SIAL no debe incluir usuario ni contraseña; use las opciones user y password',
    );
  }
  const origin = options.baseUrl.replace(/\/+$/, '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const timeZone = options.timeZone ?? 'America/Argentina/Cordoba';
  const doFetch = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const limiter =
    options.requestsPerSecond === undefined
      ? unlimited
      : createTokenBucket({ ratePerSecond: options.requestsPerSecond, burst: options.burst ?? 1, clock });
  const fixed: SialCredentials | undefined =
    options.user !== undefined && options.password !== undefined
      ? { user: options.user, password: options.password }
      : undefined;
  const credentials = options.credentials ?? (fixed ? () => fixed : undefined);
  if (!credentials) throw new TypeError('Faltan las credenciales de SIAL (user y password, o credentials)');
  // The header of the last credentials seen, so it is rebuilt only when they change.
  let header: { user: string; password: string; value: string } | undefined;
  const authorizationOf = (c: SialCredentials): string => {
    if (header?.user !== c.user || header.password !== c.password)
      header = {
        user: c.user,
        password: c.password,
        value: `Basic ${Buffer.from(`${c.user}:${c.password}`, 'utf8').toString('base64')}`,
      };
    return header.value;
  };
  formatSialDate(new Date(0), timeZone); // Fails fast on an unknown time zone.

  /**
   * One HTTP attempt. `read` turns a 2xx response into the result; it runs under the attempt's timeout, classifies
   * stream failures with `failed` and throws AttemptError for a bad body. Error statuses are read as text.
   */
  const attempt = async <T>(
    endpoint: Endpoint,
    path: string,
    signal: AbortSignal | undefined,
    read: (response: Response, failed: (err: unknown) => unknown) => Promise<T>,
  ): Promise<T> => {
    // One controller per attempt, wired by hand: AbortSignal.any() on a long-lived run signal keeps every
    // dependent signal reachable in some Node 20 releases, and a run makes one call per alumno.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const endTimer = ingestMetrics.sialRequestSeconds.startTimer({ endpoint });
    let status: number | undefined;
    let error: unknown;
    // A failure of the request or of reading its body: the caller's abort, the timeout, or the network.
    const failed = (err: unknown): unknown => {
      if (signal?.aborted) return signal.reason;
      return new AttemptError(timedOut ? { kind: 'timeout', cause: err } : { kind: 'network', cause: err });
    };
    // Read at each request: credentials staff replaced are sent from the next one on.
    const sent = credentials();
    try {
      const init: RequestInit = {
        method: 'GET',
        headers: {
          authorization: authorizationOf(sent),
          accept: 'application/json',
          'user-agent': 'lucy-tasks-ingest-sial',
        },
        signal: controller.signal,
      };
      if (options.dispatcher) init.dispatcher = options.dispatcher;
      let response: Response;
      try {
        response = await doFetch(origin + path, init);
      } catch (err) {
        throw failed(err);
      }
      status = response.status;
      if (response.ok) {
        try {
          return await read(response, failed);
        } catch (err) {
          // Stop a body that is no longer read, so its connection is closed rather than left half-read.
          controller.abort(err);
          throw err;
        }
      }
      // The body is always read, even for errors, so the keep-alive connection goes back to the pool.
      let text: string;
      try {
        text = await response.text();
      } catch (err) {
        throw failed(err);
      }
      if (response.status === 401)
        throw new AttemptError({ kind: 'auth', user: sent.user, origin: sent.origin });
      throw new AttemptError({ kind: 'http', status: response.status, detail: detailOf(text) });
    } catch (err) {
      error = err;
      throw err;
    } finally {
      endTimer();
      ingestMetrics.sialRequests.inc({
        endpoint,
        status: requestStatus(status, error, signal?.aborted === true),
      });
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  };

  /** A small JSON body, read as text and parsed whole. */
  const readJson = async (response: Response, failed: (err: unknown) => unknown): Promise<unknown> => {
    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw failed(err);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw invalidJson(text, err);
    }
  };

  /**
   * A list body, split into records while it arrives. A body that does not start with `[` is read whole and
   * parsed, to say what it is instead.
   */
  const readList =
    <T>(sink: () => SialListSink<T>) =>
    async (
      response: Response,
      failed: (err: unknown) => unknown,
    ): Promise<{ list: true; result: T } | { list: false; body: unknown }> => {
      const target = sink();
      const body = response.body;
      if (!body) throw invalidJson('', new SyntaxError('el cuerpo está vacío'));
      const decoder = new TextDecoder();
      const splitter = new JsonArraySplitter((bytes, position) => {
        const text = decoder.decode(bytes);
        let value: unknown;
        try {
          value = JSON.parse(text) as unknown;
        } catch (err) {
          throw new RecordSyntaxError(err);
        }
        target.record(value, bytes, position);
      });
      const head: Uint8Array[] = []; // the first bytes, for the error message of a malformed body
      let headBytes = 0;
      let whole: Uint8Array[] | undefined; // the body, once it is known not to be a list
      const reader = body.getReader();
      let first = true;
      const next = async (): Promise<Uint8Array | undefined> => {
        let read: { done: true; value?: undefined } | { done: false; value: Uint8Array };
        try {
          read = (await reader.read()) as typeof read;
        } catch (err) {
          throw failed(err);
        }
        if (read.done) return undefined;
        let chunk = read.value;
        // response.text() drops a UTF-8 byte-order mark; so does this.
        if (first && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
        first = false;
        if (headBytes < HEAD_BYTES) {
          head.push(chunk.subarray(0, HEAD_BYTES - headBytes));
          headBytes += Math.min(chunk.length, HEAD_BYTES - headBytes);
        }
        return chunk;
      };
      /** The malformed-body failure, quoting the body's start as `response.text()` would have had it. */
      const invalid = async (cause: unknown): Promise<AttemptError> => {
        try {
          while (headBytes < HEAD_BYTES && (await next()) !== undefined);
        } catch {
          // What arrived is enough to quote.
        }
        return invalidJson(Buffer.concat(head).toString('utf8'), cause);
      };
      try {
        for (let chunk = await next(); chunk !== undefined; chunk = await next()) {
          if (whole) {
            whole.push(chunk);
            continue;
          }
          try {
            splitter.push(chunk);
          } catch (err) {
            if (!(err instanceof JsonArraySyntaxError)) throw err;
            if (!splitter.notAnArray) throw await invalid(err);
            whole = [chunk];
          }
        }
        if (whole) {
          const text = Buffer.concat(whole).toString('utf8');
          try {
            return { list: false, body: JSON.parse(text) as unknown };
          } catch (err) {
            throw invalidJson(text, err);
          }
        }
        let count: number;
        try {
          count = splitter.end();
        } catch (err) {
          throw await invalid(err);
        }
        return { list: true, result: target.end(count) };
      } catch (err) {
        if (err instanceof RecordSyntaxError) throw await invalid(err.cause);
        throw err;
      } finally {
        reader.releaseLock();
      }
    };

  const toPublic = (failure: AttemptFailure, path: string, attempts: number): SialError => {
    switch (failure.kind) {
      case 'timeout':
        return new SialConnectionError(`sin respuesta después de ${timeoutMs} ms`, {
          path,
          attempts,
          timedOut: true,
          cause: failure.cause,
        });
      case 'network':
        return new SialConnectionError(networkDetail(failure.cause), {
          path,
          attempts,
          timedOut: false,
          cause: failure.cause,
        });
      case 'auth':
        return new SialAuthError({ path, attempts, user: failure.user, origin: failure.origin });
      case 'http':
        return new SialHttpError({ path, attempts, status: failure.status, detail: failure.detail });
      case 'response':
        return new SialResponseError(failure.detail, {
          path,
          attempts,
          cause: failure.cause,
          transient: failure.malformed,
        });
    }
  };

  const get = async <T>(
    endpoint: Endpoint,
    path: string,
    signal: AbortSignal | undefined,
    read: (response: Response, failed: (err: unknown) => unknown) => Promise<T>,
  ): Promise<{ body: T; attempts: number }> => {
    for (let attemptNo = 1; ; attemptNo++) {
      await limiter.acquire(signal);
      try {
        return { body: await attempt(endpoint, path, signal, read), attempts: attemptNo };
      } catch (err) {
        if (!(err instanceof AttemptError)) throw err;
        const error = toPublic(err.failure, path, attemptNo);
        if (!isRetryable(err.failure) || attemptNo > retries) throw error;
        const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** (attemptNo - 1));
        const delayMs = Math.round(ceiling / 2 + (random() * ceiling) / 2);
        options.onRetry?.({ path, attempt: attemptNo, delayMs, error });
        await clock.sleep(delayMs, signal);
      }
    }
  };

  const listPath = (tipo: Tipo, range: SialListRange = {}): string => {
    if (!isTipo(tipo)) throw new TypeError(`Tipo de lista de SIAL desconocido: ${String(tipo)}`);
    const { desde, hasta } = range;
    for (const [name, value] of [
      ['desde', desde],
      ['hasta', hasta],
    ] as const) {
      if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) {
        throw new TypeError(`listar: ${name} no es una fecha válida`);
      }
    }
    const prefix = `${SIAL_BASE_PATH}/${tipo}/listas/`;
    if (!desde && hasta) throw new TypeError('listar: hasta requiere desde');
    if (!desde) return prefix;
    if (!hasta) return prefix + formatSialDate(desde, timeZone);
    if (desde.getTime() > hasta.getTime()) throw new RangeError('listar: desde es posterior a hasta');
    return `${prefix}${formatSialDate(desde, timeZone)}/${formatSialDate(hasta, timeZone)}`;
  };

  const listarEach = async <T>(
    tipo: Tipo,
    range: SialListRange | undefined,
    sink: () => SialListSink<T>,
    callOptions?: SialCallOptions,
  ): Promise<T> => {
    const path = listPath(tipo, range);
    const { body, attempts } = await get('lista', path, callOptions?.signal, readList(sink));
    if (!body.list) {
      throw new SialResponseError(
        `se esperaba una lista de ${ESTADO_FOR_TIPO[tipo]}s y llegó ${describeJson(body.body)}`,
        { path, attempts },
      );
    }
    return body.result;
  };

  return {
    listPath,
    listarEach,
    listar: (tipo, range, callOptions) =>
      listarEach(
        tipo,
        range,
        () => {
          const records: unknown[] = [];
          return { record: (value) => void records.push(value), end: () => records };
        },
        callOptions,
      ),
    async datosPersonales(nrodoc, callOptions) {
      const doc = String(nrodoc).trim();
      if (!/^[A-Za-z0-9]{1,20}$/.test(doc)) throw new TypeError(`datosPersonales: nrodoc inválido «${doc}»`);
      const path = `${SIAL_BASE_PATH}/alumnos/datospersonales/${doc}`;
      const { body, attempts } = await get('datospersonales', path, callOptions?.signal, readJson);
      if (!Array.isArray(body)) {
        throw new SialResponseError(`se esperaba una lista con un objeto y llegó ${describeJson(body)}`, {
          path,
          attempts,
        });
      }
      const [first] = body as unknown[];
      if (first === undefined) return null;
      if (!isPlainObject(first)) {
        throw new SialResponseError(
          `se esperaba un objeto con datos personales y llegó ${describeJson(first)}`,
          {
            path,
            attempts,
          },
        );
      }
      return first;
    },
  };
}
