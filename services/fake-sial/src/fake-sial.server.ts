/**
 * A faithful SIAL web-service fake over real HTTP: the real paths, HTTP Basic, the record shapes (including their
 * quirks), date filtering by modification time, plus fault switches and request counters for tests and the dev stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  closeServer,
  extendKeepAlive,
  FakeInputError,
  listen,
  readJsonBody,
  sendBody,
  serverOrigin,
} from '@lucy/fake-kit';
import { createDataset, type TouchChange, type TouchTarget } from './dataset.js';
import { sialIndexPage } from './index-page.js';
import {
  appliesTo,
  mergeFaults,
  takeFault,
  type BadRecordKind,
  type FakeSialFaults,
  type FakeSialFaultsInput,
} from './faults.js';
import {
  FAKE_TIPOS,
  type FakeListRecord,
  type FakePersonalRecord,
  type FakeSizes,
  type FakeTipo,
} from './population.js';
import { parseSialPathDate, type PathDate } from './sial-time.js';

/** Base path of every SIAL endpoint. */
export const SIAL_BASE_PATH = '/webservice/sial/V2/04';

/** Options of {@link createFakeSial}. */
export interface FakeSialOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** HTTP Basic user; default `usuario` (the original mock's). */
  user?: string;
  /** HTTP Basic password; default `contrasena`. */
  password?: string;
  /** Population seed; default 1. Same seed and sizes → same records. */
  seed?: number;
  /** Records per tipo; default 200 each. Up to 2,097,152 per tipo, generated lazily. */
  sizes?: Partial<FakeSizes>;
  /** Clock for modification times of touched/added records and the population's reference instant. */
  now?: () => Date;
  /** Base latency added to every SIAL response, in ms; default 0. The `latencyMs` fault overrides it. */
  latencyMs?: number;
  /** Past range the base modification times are spread over, in days; default 60. */
  historyDays?: number;
}

/** Requests received per endpoint since start or the last reset. */
export interface FakeSialRequestCounts {
  list: number;
  personal: number;
  healthz: number;
  control: number;
  /** Unknown paths and methods. */
  other: number;
  /** Requests rejected with 401 (also counted under their endpoint). */
  unauthorized: number;
  /** List requests per tipo (valid tipos only). */
  listByTipo: FakeSizes;
}

/** A snapshot of the fake, as `state()` and `GET /__fake/state` return it. */
export interface FakeSialState {
  seed: number;
  /** Current records per tipo (base + added). */
  sizes: FakeSizes;
  baseSizes: FakeSizes;
  /** Records touched and added per tipo. */
  touched: FakeSizes;
  added: FakeSizes;
  faults: FakeSialFaults;
  requests: FakeSialRequestCounts;
  /** The fake's clock, ISO 8601. */
  now: string;
}

/** A generated record with its modification time, for tests. */
export interface FakeSialRecord {
  dni: number;
  modifiedAt: Date;
  list: FakeListRecord;
  personal: FakePersonalRecord;
}

/** A running fake. */
export interface FakeSial {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops every open connection (hanging requests included). */
  close(): Promise<void>;
  /** Merges fault settings (see {@link FakeSialFaultsInput}); returns the resulting faults. */
  setFaults(faults: FakeSialFaultsInput): FakeSialFaults;
  /** Clears every fault; latency goes back to the `latencyMs` option. */
  clearFaults(): void;
  /**
   * Marks records modified now and changes them (`comisiones` for `list`, `telefono` for `personal`; default both),
   * so incremental windows return exactly them. Returns the touched DNIs.
   */
  touch(tipo: FakeTipo, target: TouchTarget, options?: { change?: TouchChange }): number[];
  /**
   * Overrides fields of one person as SIAL would serve them, and marks the record modified now: `list` fields of
   * the tipo's list entry, `personal` fields of the personal data (what applicants type: a NUL byte, a 121-character
   * telefono…), `removeFromList` list fields left out (e.g. `tipodoc`). Patches accumulate; `reset` drops them.
   */
  patch(tipo: FakeTipo, dni: number, patch: FakeSialPatch): void;
  /** Appends `n` new records to a tipo, modified now; returns their DNIs. */
  addRecords(tipo: FakeTipo, n: number): number[];
  /**
   * Changes the HTTP Basic credentials the SIAL endpoints accept from the next request on, as when SIAL's password
   * is rotated; the old pair gets 401 from then on. `reset` goes back to the pair given at start.
   */
  setCredentials(credentials: { user: string; password: string }): void;
  /** Clears faults, counters, touches and added records; the credentials go back to the start's. */
  reset(): void;
  state(): FakeSialState;
  /** The record at `index` of a tipo's list, or undefined past its end. */
  record(tipo: FakeTipo, index: number): FakeSialRecord | undefined;
}

/** A change to one person's records; see {@link FakeSial.patch}. */
export interface FakeSialPatch {
  list?: Record<string, unknown>;
  removeFromList?: string[];
  personal?: Record<string, unknown>;
}

type Reply = { status: number; body: unknown; headers?: Record<string, string> };

const JSON_HEADERS = { 'content-type': 'application/json' };
const MALFORMED_BODY = '[{"tipodoc": "DNI", "nrodoc": 4012';
/** What a reverse proxy in front of SIAL answers when SIAL is down or the proxy misroutes (nginx's page). */
const HTML_PAGE =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const MAX_CONTROL_BODY = 1 << 20;

const zeroSizes = (): FakeSizes => ({ preinscriptos: 0, aspirantes: 0, ingresantes: 0 });
const zeroCounts = (): FakeSialRequestCounts => ({
  list: 0,
  personal: 0,
  healthz: 0,
  control: 0,
  other: 0,
  unauthorized: 0,
  listByTipo: zeroSizes(),
});

const isTipo = (value: string): value is FakeTipo => (FAKE_TIPOS as readonly string[]).includes(value);

function breakRecord(record: Record<string, unknown>, kind: BadRecordKind): void {
  switch (kind) {
    case 'sin_nrodoc':
      delete record.nrodoc;
      break;
    case 'nrodoc_texto':
      record.nrodoc = 'abc';
      break;
    case 'carreras_no_array':
      record.carreras = 'CONTADOR PÚBLICO';
      break;
    case 'fecha_invalida': {
      const carreras = record.carreras as Record<string, unknown>[];
      if (carreras[0]) carreras[0].fecha_inscri = '31/02/2025 10:00:00';
      break;
    }
  }
}

function renameNrodoc(record: Record<string, unknown>): void {
  record.nro_documento = record.nrodoc;
  delete record.nrodoc;
}

/** Writes a whole JSON reply; a string body is sent as is (the `malformed` fault's truncated JSON). */
function send(res: ServerResponse, reply: Reply): void {
  const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  sendBody(res, reply.status, body, 'application/json', reply.headers);
}

/**
 * Starts a SIAL fake on a real HTTP server.
 *
 * Endpoints (all GET, HTTP Basic): `/webservice/sial/V2/04/{tipo}/listas/`, `.../listas/{fecha}` (modified at or
 * after), `.../listas/{desde}/{hasta}` (modified in [desde, hasta]; a 12-digit hasta covers its whole minute, an
 * 8-digit one its whole day), `.../alumnos/datospersonales/{nrodoc}`; `/healthz` without auth. Control (no auth,
 * fake only): `GET /__fake/state`, `POST|DELETE /__fake/faults`, `POST /__fake/reset`, `POST /__fake/touch`
 * `{tipo, count | dnis, change?}`, `POST /__fake/records` `{tipo, n}`, `POST /__fake/credentials` `{user, password}`.
 */
export async function createFakeSial(options: FakeSialOptions = {}): Promise<FakeSial> {
  const user = options.user ?? 'usuario';
  const password = options.password ?? 'contrasena';
  const now = options.now ?? (() => new Date());
  const baseLatency = options.latencyMs ?? 0;
  const seed = options.seed ?? 1;
  const sizes: FakeSizes = {
    preinscriptos: options.sizes?.preinscriptos ?? 200,
    aspirantes: options.sizes?.aspirantes ?? 200,
    ingresantes: options.sizes?.ingresantes ?? 200,
  };
  const dataset = createDataset({
    seed,
    sizes,
    epochMs: now().getTime(),
    historyMs: (options.historyDays ?? 60) * 86_400_000,
  });
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`;
  let expectedAuth = basic(user, password);

  let faults: FakeSialFaults = {};
  let counts = zeroCounts();
  // Patches by `<tipo> <dni>` (list entries) and by DNI (personal data).
  const listPatches = new Map<string, { set: Record<string, unknown>; remove: Set<string> }>();
  const personalPatches = new Map<number, Record<string, unknown>>();

  const latency = (): number => faults.latencyMs ?? baseLatency;

  const personalReply = (raw: string): Reply => {
    const dni = /^\d{1,12}$/.test(raw) ? Number(raw) : NaN;
    const record = Number.isNaN(dni) ? undefined : dataset.personalByDni(dni);
    if (!record) return { status: 200, body: [] };
    const out: Record<string, unknown> = { ...record, ...personalPatches.get(dni) };
    const shape = faults.shape;
    if (shape && appliesTo(shape.endpoints, 'personal')) {
      if (shape.variant === 'nrodoc_renamed') renameNrodoc(out);
      if (shape.variant === 'not_array') return { status: 200, body: { resultados: [out] } };
    }
    return { status: 200, body: [out] };
  };

  /**
   * The serialised full list of a tipo, kept as SIAL keeps its table: answered again as long as nothing that shapes
   * it changed (records touched or added, a reset, the `shape` or `badRecords` fault). Only the full list is
   * cached; windows are generated per request.
   */
  const listCache = new Map<FakeTipo, { key: string; chunks: Buffer[] }>();
  let dataVersion = 0;
  const dataChanged = (): void => {
    dataVersion++;
    listCache.clear();
  };

  /** Writes a chunk, waiting for the socket to drain; false when the client went away. */
  const write = async (res: ServerResponse, chunk: string | Buffer): Promise<boolean> => {
    if (res.destroyed) return false;
    if (res.write(chunk)) return true;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        res.off('drain', done).off('close', done);
        resolve();
      };
      res.on('drain', done).on('close', done);
    });
    return !res.destroyed;
  };

  /** What the full list's bytes depend on besides the tipo. */
  const listKey = (): string => {
    const shape = faults.shape && appliesTo(faults.shape.endpoints, 'list') ? faults.shape.variant : '';
    return `${dataVersion}|${shape}|${faults.badRecords ? JSON.stringify(faults.badRecords) : ''}`;
  };

  /**
   * Serialises the matching records in chunks, honouring back-pressure, without building the whole array; the
   * full list is answered from the cache when its key still holds.
   */
  const streamList = async (
    res: ServerResponse,
    tipo: FakeTipo,
    range: PathDate | undefined,
  ): Promise<void> => {
    const shape =
      faults.shape && appliesTo(faults.shape.endpoints, 'list') ? faults.shape.variant : undefined;
    const bad = faults.badRecords;
    const cacheKey = listKey();
    res.writeHead(200, JSON_HEADERS);
    const cached = range ? undefined : listCache.get(tipo);
    if (cached?.key === cacheKey) {
      for (const chunk of cached.chunks) if (!(await write(res, chunk))) return;
      res.end();
      return;
    }
    const chunks: Buffer[] | undefined = range ? undefined : [];
    let buffer = shape === 'not_array' ? '{"resultados":[' : '[';
    let written = 0;
    const total = dataset.size(tipo);
    for (let index = 0; index < total; index++) {
      if (range) {
        const at = dataset.modifiedAt(tipo, index);
        if (at < range.start || at > range.end) continue;
      }
      const record = dataset.listRecord(tipo, index) as unknown as Record<string, unknown>;
      const patch = listPatches.size > 0 ? listPatches.get(`${tipo} ${String(record.nrodoc)}`) : undefined;
      if (patch) {
        Object.assign(record, patch.set);
        for (const field of patch.remove) delete record[field];
      }
      if (bad && written < bad.count)
        breakRecord(record, bad.kinds[written % bad.kinds.length] ?? 'sin_nrodoc');
      if (shape === 'nrodoc_renamed') renameNrodoc(record);
      if (shape === 'carreras_object') record.carreras = (record.carreras as unknown[])[0] ?? {};
      buffer += (written === 0 ? '' : ',') + JSON.stringify(record);
      written++;
      if (buffer.length >= 64 * 1024) {
        const chunk = Buffer.from(buffer, 'utf8');
        buffer = '';
        chunks?.push(chunk);
        if (!(await write(res, chunk))) return;
      }
    }
    const last = Buffer.from(buffer + (shape === 'not_array' ? ']}' : ']'), 'utf8');
    if (chunks) {
      chunks.push(last);
      // Not stored when the data or the faults changed while this list was written (the key would be stale).
      if (listKey() === cacheKey) listCache.set(tipo, { key: cacheKey, chunks });
    }
    res.end(last);
  };

  const handleSial = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const segments = path.slice(SIAL_BASE_PATH.length + 1).split('/');
    if (segments.at(-1) === '' && segments.length > 1) segments.pop();
    let endpoint: 'list' | 'personal';
    if (segments[0] === 'alumnos' && segments[1] === 'datospersonales' && segments.length === 3) {
      endpoint = 'personal';
    } else if (segments[1] === 'listas' && segments.length >= 2 && segments.length <= 4) {
      endpoint = 'list';
    } else {
      counts.other++;
      return send(res, { status: 404, body: { detail: 'Not Found' } });
    }
    counts[endpoint]++;
    if (req.method !== 'GET') return send(res, { status: 405, body: { detail: 'Method Not Allowed' } });
    if (req.headers.authorization !== expectedAuth) {
      counts.unauthorized++;
      return send(res, {
        status: 401,
        body: { detail: 'Credenciales inválidas' },
        headers: { 'www-authenticate': 'Basic' },
      });
    }
    const fault = takeFault(faults, endpoint);
    if (fault === 'timeout') return; // Never answer; close() drops the connection.
    const wait = latency();
    if (wait > 0) await delay(wait);
    if (fault === 'status500')
      return send(res, { status: 500, body: { detail: 'Error interno del servidor' } });
    if (fault === 'html502' || fault === 'html200')
      return sendBody(res, fault === 'html502' ? 502 : 200, HTML_PAGE, 'text/html');

    if (endpoint === 'personal') {
      if (fault === 'malformed') return send(res, { status: 200, body: MALFORMED_BODY });
      if (fault === 'empty') return send(res, { status: 200, body: [] });
      return send(res, personalReply(decodeURIComponent(segments[2] ?? '')));
    }

    const tipo = segments[0] ?? '';
    if (!isTipo(tipo)) return send(res, { status: 404, body: { detail: 'Tipo no encontrado' } });
    counts.listByTipo[tipo]++;
    const dates = segments.slice(2).map((s) => parseSialPathDate(s));
    if (dates.some((d) => d === undefined)) {
      return send(res, { status: 400, body: { detail: 'Formato de fecha inválido (use AAAAMMDDHHMM)' } });
    }
    const [desde, hasta] = dates as PathDate[];
    if (desde && hasta && desde.start > hasta.start) {
      return send(res, {
        status: 400,
        body: { detail: 'La fecha desde no puede ser posterior a la fecha hasta' },
      });
    }
    if (fault === 'malformed') return send(res, { status: 200, body: MALFORMED_BODY });
    if (fault === 'empty') return send(res, { status: 200, body: [] });
    const range = desde
      ? { start: desde.start, end: hasta ? hasta.end : Number.POSITIVE_INFINITY }
      : undefined;
    await streamList(res, tipo, range);
  };

  const api: Omit<FakeSial, 'url' | 'port' | 'close'> = {
    setFaults(input) {
      faults = mergeFaults(faults, input);
      return structuredClone(faults);
    },
    clearFaults() {
      faults = {};
    },
    touch(tipo, target, touchOptions) {
      dataChanged();
      return dataset.touch(tipo, target, touchOptions?.change ?? 'both', now().getTime());
    },
    patch(tipo, dni, patch) {
      if (dataset.indexOfDni(tipo, dni) === undefined)
        throw new FakeInputError(`DNI ${dni} is not in ${tipo}`);
      dataChanged();
      const key = `${tipo} ${dni}`;
      const current = listPatches.get(key) ?? { set: {}, remove: new Set<string>() };
      for (const [field, value] of Object.entries(patch.list ?? {})) {
        current.set[field] = value;
        current.remove.delete(field);
      }
      for (const field of patch.removeFromList ?? []) {
        delete current.set[field];
        current.remove.add(field);
      }
      listPatches.set(key, current);
      if (patch.personal) personalPatches.set(dni, { ...personalPatches.get(dni), ...patch.personal });
      dataset.touch(tipo, [dni], 'none', now().getTime());
    },
    addRecords(tipo, n) {
      dataChanged();
      return dataset.addRecords(tipo, n, now().getTime());
    },
    setCredentials(credentials) {
      const { user: u, password: p } = credentials;
      if (typeof u !== 'string' || typeof p !== 'string' || u === '' || p === '' || u.includes(':'))
        throw new FakeInputError(
          'user and password must be non-empty strings, and user must not contain ":"',
        );
      expectedAuth = basic(u, p);
    },
    reset() {
      expectedAuth = basic(user, password);
      faults = {};
      counts = zeroCounts();
      listPatches.clear();
      personalPatches.clear();
      dataset.reset();
      dataChanged();
    },
    state() {
      const { touched, added } = dataset.changeCounts();
      return {
        seed,
        sizes: dataset.sizes(),
        baseSizes: { ...dataset.population.baseSizes },
        touched,
        added,
        faults: structuredClone(faults),
        requests: structuredClone(counts),
        now: now().toISOString(),
      };
    },
    record(tipo, index) {
      if (!Number.isInteger(index) || index < 0 || index >= dataset.size(tipo)) return undefined;
      const list = dataset.listRecord(tipo, index);
      const personal = dataset.personalByDni(list.nrodoc);
      if (!personal) return undefined;
      return { dni: list.nrodoc, modifiedAt: new Date(dataset.modifiedAt(tipo, index)), list, personal };
    },
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    counts.control++;
    const route = `${req.method ?? 'GET'} ${path.replace(/\/$/, '')}`;
    switch (route) {
      case 'GET /__fake/state':
        return send(res, { status: 200, body: api.state() });
      case 'POST /__fake/faults':
        return send(res, {
          status: 200,
          body: api.setFaults((await readJsonBody(req, MAX_CONTROL_BODY)) as FakeSialFaultsInput),
        });
      case 'DELETE /__fake/faults':
        api.clearFaults();
        return send(res, { status: 200, body: {} });
      case 'POST /__fake/reset':
        api.reset();
        return send(res, { status: 200, body: api.state() });
      case 'POST /__fake/touch': {
        const body = (await readJsonBody(req, MAX_CONTROL_BODY)) as {
          tipo?: unknown;
          count?: unknown;
          dnis?: unknown;
          change?: unknown;
        };
        const tipo = String(body.tipo);
        if (!isTipo(tipo)) throw new FakeInputError('tipo must be preinscriptos, aspirantes or ingresantes');
        const target = body.dnis ?? body.count;
        if (
          typeof target !== 'number' &&
          !(Array.isArray(target) && target.every((d) => typeof d !== 'object'))
        ) {
          throw new FakeInputError('give count (a number) or dnis (a list)');
        }
        const change = body.change ?? 'both';
        if (change !== 'list' && change !== 'personal' && change !== 'both') {
          throw new FakeInputError('change must be list, personal or both');
        }
        return send(res, { status: 200, body: { dnis: api.touch(tipo, target as TouchTarget, { change }) } });
      }
      case 'POST /__fake/patch': {
        const body = (await readJsonBody(req, MAX_CONTROL_BODY)) as Record<string, unknown>;
        const tipo = String(body.tipo);
        if (!isTipo(tipo)) throw new FakeInputError('tipo must be preinscriptos, aspirantes or ingresantes');
        const isObject = (v: unknown) =>
          v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v));
        if (!isObject(body.list) || !isObject(body.personal))
          throw new FakeInputError('list and personal must be objects');
        const remove = body.removeFromList ?? [];
        if (!Array.isArray(remove) || !remove.every((f) => typeof f === 'string'))
          throw new FakeInputError('removeFromList must be a list of field names');
        api.patch(tipo, Number(body.dni), {
          ...(body.list ? { list: body.list as Record<string, unknown> } : {}),
          ...(body.personal ? { personal: body.personal as Record<string, unknown> } : {}),
          removeFromList: remove,
        });
        return send(res, { status: 200, body: {} });
      }
      case 'POST /__fake/credentials': {
        const body = (await readJsonBody(req, MAX_CONTROL_BODY)) as { user?: unknown; password?: unknown };
        api.setCredentials({ user: body.user as string, password: body.password as string });
        return send(res, { status: 200, body: {} });
      }
      case 'POST /__fake/records': {
        const body = (await readJsonBody(req, MAX_CONTROL_BODY)) as { tipo?: unknown; n?: unknown };
        const tipo = String(body.tipo);
        if (!isTipo(tipo)) throw new FakeInputError('tipo must be preinscriptos, aspirantes or ingresantes');
        return send(res, { status: 200, body: { dnis: api.addRecords(tipo, Number(body.n)) } });
      }
      default:
        return send(res, { status: 404, body: { detail: 'Not Found' } });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    try {
      if (path === '/healthz') {
        counts.healthz++;
        return send(res, { status: 200, body: { status: 'ok' } });
      }
      if (path === '/' && req.method === 'GET') {
        const origin = `http://${req.headers.host ?? '127.0.0.1'}`;
        const page = sialIndexPage(origin, SIAL_BASE_PATH, api.state());
        return sendBody(res, 200, page, 'text/html; charset=utf-8');
      }
      if (path.startsWith('/__fake/')) return await handleControl(req, res, path);
      if (path.startsWith(`${SIAL_BASE_PATH}/`)) return await handleSial(req, res, path);
      counts.other++;
      return send(res, { status: 404, body: { detail: 'Not Found' } });
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof FakeInputError) return send(res, { status: 400, body: { detail: err.message } });
      send(res, { status: 500, body: { detail: 'Error interno del servidor' } });
    }
  };

  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    void handle(req, res);
  });
  extendKeepAlive(server);
  // The `timeout` fault hangs on purpose; Node's 300 s default request timeout would cut it.
  server.requestTimeout = 0;

  const address = await listen(server, options.port, options.host);
  return {
    ...api,
    url: serverOrigin('http', address),
    port: address.port,
    close: () => closeServer(server),
  };
}
