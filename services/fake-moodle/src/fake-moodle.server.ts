/**
 * A faithful Moodle web-services fake over real HTTP: `/webservice/rest/server.php` with `wstoken`, `wsfunction`,
 * `moodlewsrestformat` and PHP-array form parameters, HTTP 200 with `{exception, errorcode, message[, debuginfo]}`
 * on every Moodle error, the core checks of the functions Lucy calls, plus fault switches and a control API for
 * tests and the dev stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  closeServer,
  extendKeepAlive,
  listen,
  readBody,
  readJsonBody,
  sendBody,
  sendJson,
  serverOrigin,
} from '@lucy/fake-kit';
import {
  accessException,
  invalidToken,
  InvalidParameterException,
  missingRecord,
  MoodleException,
} from './errors.js';
import {
  mergeFaults,
  takeFault,
  FakeInputError,
  type FakeMoodleFaults,
  type FakeMoodleFaultsInput,
} from './faults.js';
import {
  ALL_CAPABILITIES,
  callFunction,
  WS_FUNCTION_NAMES,
  WS_FUNCTIONS,
  type FunctionSettings,
} from './functions.js';
import { mergePhpArrays, parsePhpForm, type PhpArray, type PhpValue } from './php-params.js';
import { contentType, formatError, formatResult, type RestFormat } from './rest-format.js';
import {
  createMoodleSite,
  DEFAULT_COURSES,
  WS_USER_ID,
  type FakeMoodleCourse,
  type FakeMoodleCourseInput,
  type FakeMoodleEnrolment,
  type FakeMoodleToken,
  type FakeMoodleUser,
  type FakeMoodleUserInput,
} from './site.js';

/** Path of Moodle's REST server. */
export const MOODLE_REST_PATH = '/webservice/rest/server.php';

/** Options of {@link createFakeMoodle}. */
export interface FakeMoodleOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** The seeded token; default `fake-moodle-token`. It acts as the web-service user (id 3, `lucy-ws`). */
  token?: string;
  /** Functions of the seeded token's service; default every implemented function. */
  functions?: string[];
  /** Capabilities of the web-service user; default all the functions check. */
  capabilities?: string[];
  /** More tokens, e.g. one whose service lacks a function; `userid` defaults to the web-service user. */
  tokens?: (Partial<FakeMoodleToken> & { token: string })[];
  /** Site debugging (`debuginfo` in error bodies); default false, as on a production site. */
  debug?: boolean;
  /** Clock for `timecreated`/`timemodified` and call times. */
  now?: () => Date;
  /** Base latency of every web-service answer, in ms; default 0. The `latencyMs` fault overrides it. */
  latencyMs?: number;
  /** Courses besides the front page; default I1, I2 and TGA (ids 2, 3, 4). */
  courses?: FakeMoodleCourseInput[];
  /** Users seeded after guest (1), admin (2) and the web-service user (3). */
  users?: FakeMoodleUserInput[];
  /** Installed language packs; default `en`, `es`. */
  langs?: string[];
  /** Installed auth plugins; default Moodle's core ones plus `oidc` (Microsoft's auth_oidc). */
  auths?: string[];
  /** Installed themes; default `boost`, `classic`. */
  themes?: string[];
  /** `$CFG->allowaccountssameemail`; default false (duplicate e-mail addresses are refused). */
  allowAccountsSameEmail?: boolean;
  /** Site name in `core_webservice_get_site_info`; default `V.ECO`. */
  siteName?: string;
  /** Site URL reported by the site info; default the URL the fake listens on. */
  siteUrl?: string;
}

/** Web-service requests received since start or the last reset. */
export interface FakeMoodleRequestCounts {
  /** Requests to the REST server. */
  rest: number;
  /** Calls that reached a function, by `wsfunction`. */
  byFunction: Record<string, number>;
  /** Answers with a Moodle exception body. */
  errors: number;
  /** Requests answered by a fault. */
  faults: number;
  healthz: number;
  control: number;
  /** Unknown paths. */
  other: number;
}

/** One REST call, as the fake records it (the last 500 are kept). */
export interface FakeMoodleCall {
  at: string;
  wsfunction: string;
  format: RestFormat;
  /** Set when the answer was a Moodle exception. */
  errorcode?: string;
  /** Set when a fault answered. */
  fault?: string;
}

/** A snapshot of the fake, as `state()` and `GET /__fake/state` return it. */
export interface FakeMoodleState {
  users: FakeMoodleUser[];
  courses: FakeMoodleCourse[];
  enrolments: FakeMoodleEnrolment[];
  tokens: FakeMoodleToken[];
  debug: boolean;
  faults: FakeMoodleFaults;
  requests: FakeMoodleRequestCounts;
  calls: FakeMoodleCall[];
  /** The fake's clock, ISO 8601. */
  now: string;
}

/** A running fake. */
export interface FakeMoodle {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:40123` (what Lucy calls `moodle_base_url`). */
  readonly url: string;
  /** `url` + `/webservice/rest/server.php`. */
  readonly restUrl: string;
  readonly port: number;
  /** The seeded token. */
  readonly token: string;
  /** Stops listening and drops every open connection (hanging requests included). */
  close(): Promise<void>;
  /** Merges fault settings (see {@link FakeMoodleFaultsInput}); returns the resulting faults. */
  setFaults(faults: FakeMoodleFaultsInput): FakeMoodleFaults;
  /** Clears every fault; latency goes back to the `latencyMs` option. */
  clearFaults(): void;
  /** Turns site debugging (debuginfo in errors) on or off. */
  setDebug(enabled: boolean): void;
  /** Adds a user directly, bypassing the web-service checks (seeding); returns it. */
  addUser(input: FakeMoodleUserInput): FakeMoodleUser;
  /** Adds a course; returns it. */
  addCourse(input: FakeMoodleCourseInput): FakeMoodleCourse;
  /** Re-seeds users, courses and enrolments, clears faults, counters and calls; debug back to the option. */
  reset(): void;
  state(): FakeMoodleState;
}

const DEFAULT_AUTHS = [
  'manual',
  'nologin',
  'email',
  'oauth2',
  'ldap',
  'cas',
  'db',
  'lti',
  'mnet',
  'none',
  'shibboleth',
  'webservice',
  'oidc',
];
const INTERNAL_AUTHS = ['manual', 'email', 'none', 'webservice'];
const MAX_BODY = 8 << 20;
const MAX_CONTROL_BODY = 1 << 20;
const MAX_CALLS = 500;

const HTML_500 = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>500 Internal Server Error</title>
</head><body>
<h1>Internal Server Error</h1>
<p>The server encountered an internal error or
misconfiguration and was unable to complete
your request.</p>
</body></html>
`;
const HTML_503 = `<!DOCTYPE html>
<html><head><title>Site under maintenance</title></head>
<body><div class="box py-3 generalbox"><h1>Site under maintenance</h1>
<p>This site is undergoing maintenance. Please try again later.</p></div></body></html>
`;
const HTML_ERROR_PAGE = `<!DOCTYPE html>
<html dir="ltr" lang="es" xml:lang="es">
<head><title>Error | V.ECO</title><meta http-equiv="Content-Type" content="text/html; charset=utf-8" /></head>
<body id="page-webservice-rest-server" class="format-site path-webservice">
<div id="page"><div role="main"><div class="box errorbox alert alert-danger">
<p class="errormessage">Error reading from database</p>
<p class="errorcode"><a href="https://docs.moodle.org/405/en/error/moodle/dmlreadexception">More information about this error</a></p>
</div></div></div>
</body></html>
`;

const zeroCounts = (): FakeMoodleRequestCounts => ({
  rest: 0,
  byFunction: {},
  errors: 0,
  faults: 0,
  healthz: 0,
  control: 0,
  other: 0,
});

const readJson = (req: IncomingMessage): Promise<unknown> => readJsonBody(req, MAX_CONTROL_BODY);

const scalar = (value: PhpValue | undefined): string | undefined =>
  typeof value === 'string' ? value : undefined;

/**
 * Starts a Moodle web-services fake on a real HTTP server.
 *
 * Web service: `GET|POST /webservice/rest/server.php` (query string and form body merged, body wins). Control (fake
 * only, no auth): `GET /__fake/state`, `POST|DELETE /__fake/faults`, `POST /__fake/reset`, `POST /__fake/users`,
 * `POST /__fake/courses`, `POST /__fake/debug` `{enabled}`; `/healthz`.
 */
export async function createFakeMoodle(options: FakeMoodleOptions = {}): Promise<FakeMoodle> {
  const now = options.now ?? (() => new Date());
  const baseLatency = options.latencyMs ?? 0;
  const token = options.token ?? 'fake-moodle-token';
  const tokens: FakeMoodleToken[] = [
    {
      token,
      userid: WS_USER_ID,
      functions: [...(options.functions ?? WS_FUNCTION_NAMES)],
      capabilities: [...(options.capabilities ?? ALL_CAPABILITIES)],
    },
    ...(options.tokens ?? []).map((t) => ({
      token: t.token,
      userid: t.userid ?? WS_USER_ID,
      functions: [...(t.functions ?? WS_FUNCTION_NAMES)],
      capabilities: [...(t.capabilities ?? ALL_CAPABILITIES)],
    })),
  ];
  const site = createMoodleSite({
    now,
    courses: options.courses ?? DEFAULT_COURSES,
    users: options.users ?? [],
    wsUsername: 'lucy-ws',
  });

  let listeningUrl = '';
  const settings: FunctionSettings = {
    langs: options.langs ?? ['en', 'es'],
    auths: options.auths ?? DEFAULT_AUTHS,
    themes: options.themes ?? ['boost', 'classic'],
    internalAuths: INTERNAL_AUTHS,
    allowAccountsSameEmail: options.allowAccountsSameEmail ?? false,
    siteName: options.siteName ?? 'V.ECO',
    siteUrl: () => options.siteUrl ?? listeningUrl,
    release: '4.5.1 (Build: 20241209)',
    version: '2024100701.00',
    now,
  };

  let debug = options.debug ?? false;
  let faults: FakeMoodleFaults = {};
  let counts = zeroCounts();
  let calls: FakeMoodleCall[] = [];

  const record = (call: Omit<FakeMoodleCall, 'at'>): void => {
    calls.push({ at: now().toISOString(), ...call });
    if (calls.length > MAX_CALLS) calls = calls.slice(-MAX_CALLS);
  };

  /** Authentication, function lookup and access control, then the call, as `webservice_server::run()`. */
  const execute = (
    wsfunction: string | undefined,
    wstoken: string | undefined,
    params: PhpArray,
  ): unknown => {
    const tokenRow = tokens.find((t) => t.token === wstoken);
    if (!wstoken || !tokenRow) throw invalidToken();
    if (!wsfunction) throw new InvalidParameterException('Missing function name');
    if (!WS_FUNCTIONS[wsfunction]) {
      throw missingRecord('external_functions', 'SELECT * FROM {external_functions} WHERE name = ?', [
        wsfunction,
      ]);
    }
    if (!tokenRow.functions.includes(wsfunction)) throw accessException(wsfunction);
    counts.byFunction[wsfunction] = (counts.byFunction[wsfunction] ?? 0) + 1;
    return callFunction(wsfunction, params, { site, token: tokenRow, settings });
  };

  const handleRest = async (req: IncomingMessage, res: ServerResponse, query: string): Promise<void> => {
    counts.rest++;
    const get = parsePhpForm(query);
    const isForm = (req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const body = await readBody(req, MAX_BODY);
    const post = req.method === 'POST' && isForm ? parsePhpForm(body) : new Map<string, PhpValue>();
    const params = mergePhpArrays(get, post);
    const format: RestFormat = params.get('moodlewsrestformat') === 'json' ? 'json' : 'xml';
    const wstoken = scalar(params.get('wstoken'));
    const wsfunction = scalar(params.get('wsfunction'));
    for (const key of [...params.keys()]) {
      if (key === 'wstoken' || key === 'wsfunction' || key.startsWith('moodlews')) params.delete(key);
    }
    const callName = wsfunction ?? '';

    const fault = takeFault(faults, callName);
    if (fault) {
      counts.faults++;
      record({ wsfunction: callName, format, fault });
    }
    if (fault === 'timeout') return; // Never answer; close() drops the connection.
    const wait = faults.latencyMs ?? baseLatency;
    if (wait > 0) await delay(wait);
    if (fault === 'status500') return sendBody(res, 500, HTML_500, 'text/html; charset=iso-8859-1');
    if (fault === 'status503') {
      return sendBody(res, 503, HTML_503, 'text/html; charset=utf-8', { 'retry-after': '300' });
    }
    if (fault === 'html') return sendBody(res, 200, HTML_ERROR_PAGE, 'text/html; charset=utf-8');

    try {
      if (fault === 'invalidToken') throw invalidToken();
      const result = execute(wsfunction, wstoken, params);
      if (!fault) record({ wsfunction: callName, format });
      return sendBody(res, 200, formatResult(format, result), contentType(format));
    } catch (err) {
      if (!(err instanceof MoodleException)) throw err;
      counts.errors++;
      if (!fault) record({ wsfunction: callName, format, errorcode: err.errorcode });
      return sendBody(res, 200, formatError(format, err, debug), contentType(format));
    }
  };

  const api: Omit<FakeMoodle, 'url' | 'restUrl' | 'port' | 'token' | 'close'> = {
    setFaults(input) {
      faults = mergeFaults(faults, input);
      return structuredClone(faults);
    },
    clearFaults() {
      faults = {};
    },
    setDebug(enabled) {
      debug = enabled;
    },
    addUser: (input) => structuredClone(site.addUser(input)),
    addCourse: (input) => structuredClone(site.addCourse(input)),
    reset() {
      site.reset();
      faults = {};
      counts = zeroCounts();
      calls = [];
      debug = options.debug ?? false;
    },
    state() {
      return structuredClone({
        users: site.data.users,
        courses: site.data.courses,
        enrolments: site.data.enrolments,
        tokens,
        debug,
        faults,
        requests: counts,
        calls,
        now: now().toISOString(),
      });
    },
  };

  const controlUser = (body: unknown): FakeMoodleUserInput => {
    if (
      typeof body !== 'object' ||
      body === null ||
      typeof (body as { username?: unknown }).username !== 'string'
    ) {
      throw new FakeInputError('a user needs at least a username');
    }
    return body as FakeMoodleUserInput;
  };

  const handleControl = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    counts.control++;
    const route = `${req.method ?? 'GET'} ${path.replace(/\/$/, '')}`;
    switch (route) {
      case 'GET /__fake/state':
        return sendJson(res, 200, api.state());
      case 'POST /__fake/faults':
        return sendJson(res, 200, api.setFaults((await readJson(req)) as FakeMoodleFaultsInput));
      case 'DELETE /__fake/faults':
        api.clearFaults();
        return sendJson(res, 200, {});
      case 'POST /__fake/reset':
        api.reset();
        return sendJson(res, 200, api.state());
      case 'POST /__fake/users':
        return sendJson(res, 200, api.addUser(controlUser(await readJson(req))));
      case 'POST /__fake/courses': {
        const body = (await readJson(req)) as { shortname?: unknown };
        if (typeof body.shortname !== 'string') throw new FakeInputError('a course needs a shortname');
        return sendJson(res, 200, api.addCourse(body as FakeMoodleCourseInput));
      }
      case 'POST /__fake/debug': {
        const body = (await readJson(req)) as { enabled?: unknown };
        if (typeof body.enabled !== 'boolean') throw new FakeInputError('enabled must be true or false');
        api.setDebug(body.enabled);
        return sendJson(res, 200, { debug: body.enabled });
      }
      default:
        return sendJson(res, 404, { error: 'not found' });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
    try {
      if (path === '/healthz') {
        counts.healthz++;
        return sendJson(res, 200, { status: 'ok' });
      }
      if (path.startsWith('/__fake/')) return await handleControl(req, res, path);
      if (path === MOODLE_REST_PATH) return await handleRest(req, res, query);
      counts.other++;
      return sendBody(res, 404, '<h1>Not Found</h1>', 'text/html; charset=utf-8');
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof FakeInputError) return sendJson(res, 400, { error: err.message });
      sendBody(res, 500, HTML_500, 'text/html; charset=iso-8859-1');
    }
  };

  const server: Server = createServer({ keepAlive: true }, (req, res) => {
    void handle(req, res);
  });
  extendKeepAlive(server);
  // The `timeout` fault hangs on purpose; Node's 300 s default request timeout would cut it.
  server.requestTimeout = 0;

  const address = await listen(server, options.port, options.host);
  listeningUrl = serverOrigin('http', address);

  return {
    ...api,
    url: listeningUrl,
    restUrl: `${listeningUrl}${MOODLE_REST_PATH}`,
    port: address.port,
    token,
    close: () => closeServer(server),
  };
}
