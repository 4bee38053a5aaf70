/**
 * Moodle REST web-services client: `POST {MOODLE_URL}/webservice/rest/server.php` with `wstoken`, `wsfunction`,
 * `moodlewsrestformat=json` and the parameters in PHP array notation (`users[0][username]=…`).
 *
 * Moodle answers HTTP 200 even for errors, with `{exception, errorcode, message[, debuginfo]}`; the reason of an
 * `invalidparameter` is only in `debuginfo`, which a production site does not send. So every body is inspected,
 * keyed on `errorcode` (Moodle 4.4+ may namespace `exception`), and a refused create is disambiguated by looking the
 * username up. Network errors, timeouts, 5xx and HTML pages instead of JSON are transient and retried with backoff;
 * token and permission errors are permanent configuration errors.
 */
import { PermanentError, TransientError, type Logger } from '@lucy/platform';
import { backoffDelay, backoffPolicy } from './backoff.js';
import { realClock, type AdapterClock } from './clock.js';
import { textField } from './json-fields.js';

/** Path of Moodle's REST server. */
export const MOODLE_REST_PATH = '/webservice/rest/server.php';

/** Codes of the errors this client raises (`error.code`). */
export const MOODLE_ERROR = {
  configuration: 'MOODLE_CONFIGURACION',
  userExists: 'MOODLE_USUARIO_EXISTE',
  emailExists: 'MOODLE_EMAIL_EXISTE',
  invalidParameter: 'MOODLE_PARAMETRO_INVALIDO',
  notFound: 'MOODLE_NO_ENCONTRADO',
  refused: 'MOODLE_RECHAZADO',
  unavailable: 'MOODLE_NO_DISPONIBLE',
} as const;

/** Options of {@link createMoodleClient}. */
export interface MoodleClientOptions {
  /** Site URL (MOODLE_URL), e.g. `https://v.eco.unrc.edu.ar`; a trailing `/` is ignored. */
  baseUrl: string;
  /** Web-service token (MOODLE_TOKEN); never logged nor put in errors. */
  token: string;
  /** Per-attempt timeout in ms; default 30,000. */
  timeoutMs?: number;
  /** Retries after the first attempt, for transient failures only; default 3. */
  retries?: number;
  /** First backoff in ms, doubled per retry, with jitter (50–100 %); default 500. */
  backoffMs?: number;
  /** Cap of one backoff in ms; default 10,000. */
  maxBackoffMs?: number;
  /** Default the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Default the wall clock. */
  clock?: AdapterClock;
  /** Uniform [0, 1) source for the jitter; default Math.random. */
  random?: () => number;
  /** Retries are logged at `warn` (function, reason, delay); parameters never are. */
  logger?: Logger;
}

/** Fields `core_user_get_users_by_field` searches on. */
export type MoodleUserField = 'id' | 'idnumber' | 'username' | 'email';

/** A Moodle user as `core_user_get_users_by_field` returns it (the fields Lucy uses). */
export interface MoodleUser {
  id: number;
  username: string;
  firstname: string;
  lastname: string;
  email: string;
  idnumber: string;
  auth: string;
  suspended: boolean;
}

/** What {@link MoodleClient.createUser} sends. */
export interface NewMoodleUser {
  /** Lower case, `[-.@_a-z0-9]` (the alumno's UPN). */
  username: string;
  firstname: string;
  lastname: string;
  email: string;
  /** The alumno's DNI: how the user is found again. */
  idnumber: string;
  /** Auth plugin; default `manual`. With Microsoft 365 sign-in, `oidc` (no password needed). */
  auth?: string;
  /** Needed by internal auths (manual) unless `createPassword`. */
  password?: string;
  /** Let Moodle generate the password and mail it. */
  createPassword?: boolean;
  /** Default `es`. */
  lang?: string;
}

/** One manual enrolment. */
export interface MoodleEnrolment {
  /** Look the student role up (usually 5), do not assume it. */
  roleid: number;
  userid: number;
  courseid: number;
  /** Epoch seconds. */
  timestart?: number;
  timeend?: number;
  suspend?: boolean;
}

/** What the connectivity check reports. */
export interface MoodleSiteInfo {
  sitename: string;
  siteurl: string;
  username: string;
  userid: number;
  release: string;
  /** Web-service functions the token may call. */
  functions: string[];
}

/** The Moodle operations of identity-teams. Failures are TransientError or PermanentError. */
export interface MoodleClient {
  /** Site name, the token's user and its functions: a connectivity and configuration check. */
  getSiteInfo(): Promise<MoodleSiteInfo>;
  /** Users whose `field` is one of `values` (deleted users are never returned); `[]` when none. */
  getUsersByField(field: MoodleUserField, values: readonly (string | number)[]): Promise<MoodleUser[]>;
  /** Creates one user (one per call: Moodle rolls a whole batch back for one bad user). */
  createUser(user: NewMoodleUser): Promise<{ id: number; username: string }>;
  /** Deletes users by id (one transaction). */
  deleteUsers(ids: readonly number[]): Promise<void>;
  /** Enrols users in courses with the manual enrolment method. */
  enrolUsers(enrolments: readonly MoodleEnrolment[]): Promise<void>;
}

/** The username is taken (`Username already exists`): the caller checks idnumber and may treat it as done. */
export class MoodleUserExistsError extends PermanentError {
  readonly username: string;
  constructor(username: string, message: string) {
    super(message, { code: MOODLE_ERROR.userExists, detalles: { username } });
    this.username = username;
  }
}

type Params = Record<string, unknown>;

/**
 * Form pairs in PHP array notation: `{users: [{username: 'a'}]}` → `users[0][username]=a`. Booleans become 1/0
 * (Moodle's PARAM_BOOL), undefined and null are left out.
 */
export function encodePhpParams(params: Params, prefix = ''): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      out.push(...encodePhpParams(Object.fromEntries(value.map((v: unknown, i) => [String(i), v])), name));
    } else if (typeof value === 'object') {
      out.push(...encodePhpParams(value as Params, name));
    } else if (typeof value === 'boolean') {
      out.push([name, value ? '1' : '0']);
    } else {
      out.push([name, textField(value)]);
    }
  }
  return out;
}

/** A Moodle exception body. */
interface MoodleException {
  exception: string;
  errorcode: string;
  message: string;
  debuginfo?: string;
}

const isException = (body: unknown): body is MoodleException =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && 'exception' in body;

/** A failed attempt: transient ones are retried. */
class AttemptFailure extends Error {
  constructor(
    readonly transient: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Creates the Moodle client.
 * @throws TypeError when the URL is not http(s).
 */
export function createMoodleClient(options: MoodleClientOptions): MoodleClient {
  let site: URL;
  try {
    site = new URL(options.baseUrl);
  } catch {
    throw new TypeError('MOODLE_URL no es una URL válida');
  }
  if (site.protocol !== 'http:' && site.protocol !== 'https:') {
    throw new TypeError('MOODLE_URL debe empezar con http:// o https://');
  }
  const endpoint = `${options.baseUrl.replace(/\/+$/, '')}${MOODLE_REST_PATH}`;
  const doFetch = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? realClock;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 3;
  const policy = backoffPolicy(options, { backoffMs: 500, maxBackoffMs: 10_000 });

  const attempt = async (wsfunction: string, params: Params): Promise<unknown> => {
    const form = new URLSearchParams([
      ['wstoken', options.token],
      ['wsfunction', wsfunction],
      ['moodlewsrestformat', 'json'],
      ...encodePhpParams(params),
    ]);
    let response: Response;
    let text: string;
    try {
      response = await doFetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new AttemptFailure(
        true,
        timedOut
          ? `Moodle no respondió en ${timeoutMs} ms`
          : `Error de conexión con Moodle (${describe(err)})`,
        { cause: err },
      );
    }
    if (response.status >= 500) throw new AttemptFailure(true, `Moodle respondió HTTP ${response.status}`);
    if (!response.ok) {
      throw new AttemptFailure(
        false,
        `Moodle respondió HTTP ${response.status}; revise MOODLE_URL (${site.origin})`,
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      // A PHP error page or a proxy page: the site is in trouble, not the request.
      throw new AttemptFailure(true, 'Moodle respondió una página HTML en lugar de JSON', { cause: err });
    }
  };

  /** Calls a function; resolves with its result or throws the public error. */
  const call = async (wsfunction: string, params: Params): Promise<unknown> => {
    for (let attempts = 1; ; attempts++) {
      let body: unknown;
      try {
        body = await attempt(wsfunction, params);
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        const suffix = attempts > 1 ? ` tras ${attempts} intentos` : '';
        if (!err.transient) {
          throw new PermanentError(`${err.message} al llamar ${wsfunction}.`, {
            code: MOODLE_ERROR.refused,
            cause: err,
          });
        }
        if (attempts > retries) {
          throw new TransientError(
            `${err.message} al llamar ${wsfunction}${suffix}. Se reintentará más tarde.`,
            {
              code: MOODLE_ERROR.unavailable,
              cause: err,
            },
          );
        }
        const delayMs = backoffDelay(attempts, policy);
        options.logger?.warn(
          { moodle: { wsfunction, attempt: attempts, delayMs } },
          `Moodle: reintento ${attempts} de ${wsfunction} en ${delayMs} ms (${err.message})`,
        );
        await clock.sleep(delayMs);
        continue;
      }
      if (isException(body)) throw exceptionError(wsfunction, body);
      return body;
    }
  };

  return {
    async getSiteInfo() {
      const info = (await call('core_webservice_get_site_info', {})) as Record<string, unknown>;
      return {
        sitename: textField(info.sitename),
        siteurl: textField(info.siteurl),
        username: textField(info.username),
        userid: Number(info.userid ?? 0),
        release: textField(info.release),
        functions: ((info.functions as { name: string }[] | undefined) ?? []).map((f) => f.name),
      };
    },

    async getUsersByField(field, values) {
      if (values.length === 0) return [];
      const users = (await call('core_user_get_users_by_field', { field, values: [...values] })) as Record<
        string,
        unknown
      >[];
      return users.map((u) => ({
        id: Number(u.id),
        username: textField(u.username),
        firstname: textField(u.firstname),
        lastname: textField(u.lastname),
        email: textField(u.email),
        idnumber: textField(u.idnumber),
        auth: textField(u.auth),
        suspended: u.suspended === true || u.suspended === 1,
      }));
    },

    async createUser(user) {
      const params = {
        users: [
          {
            username: user.username,
            firstname: user.firstname,
            lastname: user.lastname,
            email: user.email,
            idnumber: user.idnumber,
            auth: user.auth ?? 'manual',
            password: user.password,
            createpassword: user.createPassword,
            lang: user.lang ?? 'es',
          },
        ],
      };
      try {
        const [created] = (await call('core_user_create_users', params)) as {
          id: number;
          username: string;
        }[];
        if (!created)
          throw new PermanentError('Moodle no devolvió el usuario creado.', { code: MOODLE_ERROR.refused });
        return { id: Number(created.id), username: String(created.username) };
      } catch (err) {
        // Without site debugging a taken username is only "Invalid parameter value detected": look it up.
        if (err instanceof PermanentError && err.code === MOODLE_ERROR.invalidParameter) {
          const [existing] = await this.getUsersByField('username', [user.username]);
          if (existing) throw userExists(user.username);
        }
        throw err;
      }
    },

    async deleteUsers(ids) {
      if (ids.length === 0) return;
      await call('core_user_delete_users', { userids: [...ids] });
    },

    async enrolUsers(enrolments) {
      if (enrolments.length === 0) return;
      await call('enrol_manual_enrol_users', {
        enrolments: enrolments.map((e) => ({
          ...e,
          suspend: e.suspend === undefined ? undefined : e.suspend ? 1 : 0,
        })),
      });
    },
  };
}

const userExists = (username: string): MoodleUserExistsError =>
  new MoodleUserExistsError(username, `Ya existe el usuario ${username} en Moodle (invalidparameter).`);

/** A short description of a fetch failure, without the request (which carries the token). */
function describe(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return err instanceof Error ? err.message : 'error de red';
}

/** The public error of a Moodle exception body, keyed on `errorcode`. */
function exceptionError(wsfunction: string, body: MoodleException): PermanentError {
  const code = `${body.errorcode}: ${body.message}`;
  switch (body.errorcode) {
    case 'invalidtoken':
      return new PermanentError(
        `Moodle rechazó el token del servicio web (${code}) al llamar ${wsfunction}. Revise MOODLE_TOKEN.`,
        { code: MOODLE_ERROR.configuration },
      );
    case 'accessexception':
      return new PermanentError(
        `El servicio web de Moodle no permite ${wsfunction} con este token (${code}). Agregue la función al servicio externo del token.`,
        { code: MOODLE_ERROR.configuration },
      );
    case 'nopermissions':
      return new PermanentError(
        `El usuario del token de Moodle no tiene el permiso necesario para ${wsfunction} (${code}).`,
        { code: MOODLE_ERROR.configuration },
      );
    case 'invalidparameter': {
      const debug = body.debuginfo ?? '';
      const taken = /Username already exists: (.+)$/m.exec(debug)?.[1];
      if (taken) return userExists(taken.trim());
      if (/Email address already exists/i.test(debug)) {
        return new PermanentError(`Ya existe otro usuario de Moodle con ese correo (${debug.trim()}).`, {
          code: MOODLE_ERROR.emailExists,
        });
      }
      return new PermanentError(
        `Moodle rechazó los parámetros de ${wsfunction} (${code})${debug ? `: ${debug.trim()}` : ' (active la depuración del sitio para ver el motivo)'}.`,
        { code: MOODLE_ERROR.invalidParameter },
      );
    }
    case 'invalidrecord':
      return new PermanentError(`Moodle no encontró el registro pedido por ${wsfunction} (${code}).`, {
        code: MOODLE_ERROR.notFound,
      });
    default:
      return new PermanentError(`Moodle rechazó ${wsfunction} (${code}).`, { code: MOODLE_ERROR.refused });
  }
}
