/**
 * The web-service functions the fake implements, each with Moodle's parameter description, the capability it
 * requires and the same checks, in the same order, as core (`user/externallib.php`,
 * `enrol/manual/externallib.php`, `webservice/externallib.php`).
 */
import {
  codingError,
  InvalidParameterException,
  missingRecord,
  moodleError,
  requiredCapability,
} from './errors.js';
import {
  cleanParam,
  multiple,
  single,
  validateEmail,
  validateParameters,
  value,
  type ExternalDescription,
  type ParamType,
  type SiteCatalog,
} from './external-api.js';
import type { PhpArray } from './php-params.js';
import type { FakeMoodleEnrolment, FakeMoodleToken, FakeMoodleUser, MoodleSite } from './site.js';

/** Site settings the functions read. */
export interface FunctionSettings extends SiteCatalog {
  /** Auth plugins whose `is_internal()` is true (a password or `createpassword` is required). */
  internalAuths: readonly string[];
  /** `$CFG->allowaccountssameemail`. */
  allowAccountsSameEmail: boolean;
  siteName: string;
  /** Base URL of the site, e.g. `http://127.0.0.1:8089`. */
  siteUrl: () => string;
  release: string;
  version: string;
  now: () => Date;
}

/** What a function call gets besides its parameters. */
export interface CallContext {
  site: MoodleSite;
  token: FakeMoodleToken;
  settings: FunctionSettings;
}

interface WsFunction {
  parameters: ExternalDescription;
  run(params: Record<string, unknown>, ctx: CallContext): unknown;
}

const unixNow = (now: () => Date): number => Math.floor(now().getTime() / 1000);

function requireCapability(ctx: CallContext, capability: string): void {
  if (!ctx.token.capabilities.includes(capability)) throw requiredCapability(capability);
}

const userFields: Record<string, ExternalDescription> = {
  createpassword: value('bool', { required: 'optional' }),
  username: value('username'),
  auth: value('auth', { default: 'manual' }),
  password: value('raw', { required: 'optional' }),
  firstname: value('notags'),
  lastname: value('notags'),
  email: value('raw_trimmed'),
  maildisplay: value('int', { required: 'optional' }),
  city: value('text', { required: 'optional' }),
  country: value('alpha', { required: 'optional' }),
  timezone: value('timezone', { required: 'optional' }),
  description: value('raw', { required: 'optional' }),
  firstnamephonetic: value('notags', { required: 'optional' }),
  lastnamephonetic: value('notags', { required: 'optional' }),
  middlename: value('notags', { required: 'optional' }),
  alternatename: value('notags', { required: 'optional' }),
  interests: value('text', { required: 'optional' }),
  idnumber: value('raw', { default: '' }),
  institution: value('text', { required: 'optional' }),
  department: value('text', { required: 'optional' }),
  phone1: value('notags', { required: 'optional' }),
  phone2: value('notags', { required: 'optional' }),
  address: value('text', { required: 'optional' }),
  lang: value('lang', { default: 'es' }),
  calendartype: value('plugin', { default: 'gregorian' }),
  theme: value('theme', { required: 'optional' }),
  mailformat: value('int', { required: 'optional' }),
  customfields: multiple(single({ type: value('alphanumext'), value: value('raw') }), {
    required: 'optional',
  }),
  preferences: multiple(single({ type: value('raw'), value: value('raw') }), { required: 'optional' }),
};

type CreateUserParams = {
  createpassword?: boolean;
  username: string;
  auth: string;
  password?: string;
  firstname: string;
  lastname: string;
  email: string;
  idnumber: string;
  lang: string;
  calendartype: string;
  theme?: string;
  timezone?: string;
  mailformat?: number;
  maildisplay?: number;
  description?: string;
  city?: string;
  country?: string;
  institution?: string;
  department?: string;
  customfields?: { type: string; value: string }[];
  preferences?: { type: string; value: string }[];
};

/** `user_get_user_details()` for a user the web-service user may fully see. */
function userDetails(user: FakeMoodleUser, settings: FunctionSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: user.id,
    username: user.username,
    firstname: user.firstname,
    lastname: user.lastname,
    fullname: `${user.firstname} ${user.lastname}`,
    email: user.email,
  };
  if (user.department) out.department = user.department;
  if (user.institution) out.institution = user.institution;
  if (user.idnumber) out.idnumber = user.idnumber;
  Object.assign(out, {
    firstaccess: 0,
    lastaccess: 0,
    auth: user.auth,
    suspended: user.suspended,
    confirmed: user.confirmed,
    lang: user.lang,
    theme: user.theme,
    timezone: user.timezone,
    mailformat: user.mailformat,
  });
  if (user.description) Object.assign(out, { description: user.description, descriptionformat: 1 });
  if (user.city) out.city = user.city;
  if (user.country) out.country = user.country;
  const picture = `${settings.siteUrl()}/theme/image.php/boost/core/1/u/`;
  out.profileimageurlsmall = `${picture}f2`;
  out.profileimageurl = `${picture}f1`;
  if (user.customfields.length > 0) {
    out.customfields = user.customfields.map((f) => ({
      type: 'text',
      value: f.value,
      displayvalue: f.value,
      name: f.type,
      shortname: f.type,
    }));
  }
  if (user.preferences.length > 0) out.preferences = user.preferences.map((p) => ({ ...p }));
  return out;
}

const createUsers: WsFunction = {
  parameters: single({ users: multiple(single(userFields)) }),
  run(params, ctx) {
    const { site, settings } = ctx;
    const users = params.users as CreateUserParams[];
    // mnet users would need an mnethostid; webservice users are not created through the API.
    const availableAuths = settings.auths.filter((a) => a !== 'mnet' && a !== 'webservice');
    return site.transaction(() => {
      const created: { id: number; username: string }[] = [];
      for (const user of users) {
        for (const field of ['username', 'firstname', 'lastname'] as const) {
          if (user[field].trim() === '') {
            throw new InvalidParameterException(`The field ${field} cannot be blank`);
          }
        }
        if (site.data.users.some((u) => u.username === user.username)) {
          throw new InvalidParameterException(`Username already exists: ${user.username}`);
        }
        if (!availableAuths.includes(user.auth)) {
          throw new InvalidParameterException(`Invalid authentication type: ${user.auth}`);
        }
        if (!settings.langs.includes(user.lang)) {
          throw new InvalidParameterException(`Invalid language code: ${user.lang}`);
        }
        if (user.theme && !settings.themes.includes(user.theme)) {
          throw new InvalidParameterException(`Invalid theme: ${user.theme}`);
        }
        const internal = settings.internalAuths.includes(user.auth);
        if (internal && !user.password && !user.createpassword) {
          throw new InvalidParameterException(
            'Invalid password: you must provide a password, or set createpassword.',
          );
        }
        if (!validateEmail(user.email)) {
          throw new InvalidParameterException(`Email address is invalid: ${user.email}`);
        }
        if (
          !settings.allowAccountsSameEmail &&
          site.data.users.some((u) => u.email.toLowerCase() === user.email.toLowerCase())
        ) {
          throw new InvalidParameterException(`Email address already exists: ${user.email}`);
        }
        const createpassword = user.createpassword === true;
        const row = site.addUser({
          username: user.username,
          auth: user.auth,
          password: internal && !createpassword ? (user.password ?? '') : null,
          createpassword: internal && createpassword,
          firstname: user.firstname,
          lastname: user.lastname,
          email: user.email,
          idnumber: user.idnumber,
          lang: user.lang,
          calendartype: user.calendartype,
          theme: user.theme ?? '',
          timezone: user.timezone ?? '99',
          mailformat: user.mailformat ?? 1,
          maildisplay: user.maildisplay ?? 2,
          description: user.description ?? '',
          city: user.city ?? '',
          country: user.country ?? '',
          institution: user.institution ?? '',
          department: user.department ?? '',
          customfields: user.customfields ?? [],
          preferences: user.preferences ?? [],
        });
        created.push({ id: row.id, username: row.username });
      }
      return created;
    });
  },
};

/** core_user::get_property_type() of the searchable fields. */
const SEARCH_FIELD_TYPES: Record<string, ParamType> = {
  id: 'int',
  idnumber: 'raw',
  username: 'username',
  email: 'raw_trimmed',
};

const getUsersByField: WsFunction = {
  parameters: single({ field: value('alpha'), values: multiple(value('raw')) }),
  run(params, ctx) {
    const field = params.field as string;
    const values = params.values as string[];
    const type = SEARCH_FIELD_TYPES[field];
    if (!type) {
      throw codingError(
        'invalid field parameter',
        `The search field '${field}' is not supported, look at the web service documentation`,
      );
    }
    const cleaned: (string | number)[] = [];
    for (const raw of values) {
      const clean = cleanParam(raw, type, ctx.settings);
      // PHP's loose `!=`: "05" equals 5 for the id field.
      const same = type === 'int' ? /^\s*[+-]?\d+\s*$/.test(raw) && Number(raw) === clean : raw === clean;
      if (!same) {
        throw new InvalidParameterException(
          `The field '${field}' value is invalid: ${raw}(cleaned value: ${clean})`,
        );
      }
      cleaned.push(clean);
    }
    // get_records_list() matches like SQL `IN` (case-sensitive on PostgreSQL), ordered by id.
    return ctx.site.data.users
      .filter(
        (u) => !u.deleted && cleaned.some((c) => u[field as 'id' | 'idnumber' | 'username' | 'email'] === c),
      )
      .filter((u) => u[field as keyof FakeMoodleUser] !== '')
      .sort((a, b) => a.id - b.id)
      .map((u) => userDetails(u, ctx.settings));
  },
};

const deleteUsers: WsFunction = {
  parameters: single({ userids: multiple(value('int')) }),
  run(params, ctx) {
    const { site, settings, token } = ctx;
    site.transaction(() => {
      for (const id of params.userids as number[]) {
        const user = site.activeUser(id);
        if (!user) {
          throw missingRecord('user', 'SELECT * FROM {user} WHERE id = ? AND deleted = ?', [id, 0]);
        }
        if (user.siteadmin) throw moodleError('useradminodelete', 'Administrator accounts cannot be deleted');
        if (user.id === token.userid) throw moodleError('usernotdeletederror', 'User not deleted - error');
        // delete_user() refuses the guest account with a debugging() notice, not an exception.
        if (user.username === 'guest') continue;
        const time = unixNow(settings.now);
        // delete_user() keeps the row and frees the username and e-mail address.
        let deletedName = cleanParam(`${user.email}.${time}`, 'username', settings) as string;
        while (site.data.users.some((u) => u.username === deletedName)) deletedName += '1';
        Object.assign(user, {
          deleted: true,
          username: deletedName,
          email: createHashLike(user.username),
          idnumber: '',
          timemodified: time,
        });
        site.data.enrolments = site.data.enrolments.filter((e) => e.userid !== user.id);
      }
    });
    return null;
  },
};

/** Moodle stores md5(username) as a deleted user's e-mail; any stable 32-hex string serves the fake. */
function createHashLike(text: string): string {
  let h1 = 0x811c9dc5;
  let out = '';
  for (let round = 0; round < 4; round++) {
    for (const ch of `${round}:${text}`) h1 = Math.imul(h1 ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    out += h1.toString(16).padStart(8, '0');
  }
  return out;
}

const enrolUsers: WsFunction = {
  parameters: single({
    enrolments: multiple(
      single({
        roleid: value('int'),
        userid: value('int'),
        courseid: value('int'),
        timestart: value('int', { required: 'optional' }),
        timeend: value('int', { required: 'optional' }),
        suspend: value('int', { required: 'optional' }),
      }),
    ),
  }),
  run(params, ctx) {
    const { site, settings } = ctx;
    type Enrolment = {
      roleid: number;
      userid: number;
      courseid: number;
      timestart?: number;
      timeend?: number;
      suspend?: number;
    };
    site.transaction(() => {
      for (const e of params.enrolments as Enrolment[]) {
        const course = site.data.courses.find((c) => c.id === e.courseid);
        if (!course) throw new InvalidParameterException('Context does not exist');
        requireCapability(ctx, 'enrol/manual:enrol');
        const role = site.roles.find((r) => r.id === e.roleid);
        if (!role?.assignable) {
          throw moodleError(
            'wsusercannotassign',
            `You don't have the permission to assign this role (${e.roleid}) to this user (${e.userid}) in this course(${e.courseid}).`,
          );
        }
        if (!course.manualEnrol) {
          throw moodleError(
            'wsnoinstance',
            `Manual enrolment plugin instance doesn't exist or is disabled for the course (id = ${e.courseid})`,
          );
        }
        if (!site.activeUser(e.userid)) {
          throw missingRecord('user', 'SELECT * FROM {user} WHERE id = ? AND deleted = ?', [e.userid, 0]);
        }
        const row: FakeMoodleEnrolment = {
          courseid: e.courseid,
          userid: e.userid,
          roleid: e.roleid,
          timestart: e.timestart ?? 0,
          timeend: e.timeend ?? 0,
          status: e.suspend ? 1 : 0,
          timecreated: unixNow(settings.now),
        };
        const existing = site.data.enrolments.find((x) => x.courseid === e.courseid && x.userid === e.userid);
        // Enrolling again updates the enrolment (dates, status) and adds the role.
        if (existing) Object.assign(existing, { ...row, timecreated: existing.timecreated });
        else site.data.enrolments.push(row);
      }
    });
    return null;
  },
};

const getSiteInfo: WsFunction = {
  parameters: single({ serviceshortnames: multiple(value('alphanumext'), { default: [] }) }),
  run(_params, ctx) {
    const { site, token, settings } = ctx;
    const user = site.activeUser(token.userid);
    const url = settings.siteUrl();
    return {
      sitename: settings.siteName,
      username: user?.username ?? '',
      firstname: user?.firstname ?? '',
      lastname: user?.lastname ?? '',
      fullname: user ? `${user.firstname} ${user.lastname}` : '',
      lang: user?.lang ?? 'es',
      userid: token.userid,
      siteurl: url,
      userpictureurl: `${url}/theme/image.php/boost/core/1/u/f1`,
      functions: token.functions.map((name) => ({ name, version: settings.version })),
      downloadfiles: 0,
      uploadfiles: 0,
      release: settings.release,
      version: settings.version,
      mobilecssurl: '',
      advancedfeatures: [],
      usercanmanageownfiles: true,
      userquota: 104857600,
      usermaxuploadfilesize: 104857600,
      userhomepage: 1,
      siteid: 1,
      sitecalendartype: 'gregorian',
      usercalendartype: 'gregorian',
      userissiteadmin: user?.siteadmin ?? false,
      theme: 'boost',
    };
  },
};

/** Every implemented function by its `wsfunction` name, with the capability checked before its parameters. */
export const WS_FUNCTIONS: Readonly<Record<string, WsFunction & { capability?: string }>> = {
  core_user_create_users: { ...createUsers, capability: 'moodle/user:create' },
  core_user_get_users_by_field: getUsersByField,
  core_user_delete_users: { ...deleteUsers, capability: 'moodle/user:delete' },
  enrol_manual_enrol_users: enrolUsers,
  core_webservice_get_site_info: getSiteInfo,
};

export const WS_FUNCTION_NAMES = Object.keys(WS_FUNCTIONS);

/** Every capability the functions check. */
export const ALL_CAPABILITIES = ['moodle/user:create', 'moodle/user:delete', 'enrol/manual:enrol'];

/**
 * Runs one function: capability, parameter validation, then the function itself.
 * @throws MoodleException as Moodle would report it.
 */
export function callFunction(name: string, params: PhpArray, ctx: CallContext): unknown {
  const fn = WS_FUNCTIONS[name];
  if (!fn) throw new Error(`unknown function ${name}`);
  if (fn.capability) requireCapability(ctx, fn.capability);
  const validated = validateParameters(fn.parameters, params, ctx.settings) as Record<string, unknown>;
  return fn.run(validated, ctx);
}
