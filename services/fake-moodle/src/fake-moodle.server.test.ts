import { afterEach, describe, expect, it } from 'vitest';
import { createFakeMoodle, type FakeMoodle, type FakeMoodleOptions } from './fake-moodle.server.js';

let fake: FakeMoodle | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(options: FakeMoodleOptions = {}): Promise<FakeMoodle> {
  fake = await createFakeMoodle(options);
  return fake;
}

type Params = Record<string, unknown>;

/** Flattens `{users: [{username: 'x'}]}` into PHP array notation (`users[0][username]=x`). */
function phpForm(params: Params, form = new URLSearchParams(), prefix = ''): URLSearchParams {
  for (const [key, value] of Object.entries(params)) {
    const name = prefix ? `${prefix}[${key}]` : key;
    if (Array.isArray(value)) phpForm(Object.fromEntries(value.map((v, i) => [String(i), v])), form, name);
    else if (typeof value === 'object' && value !== null) phpForm(value as Params, form, name);
    else form.append(name, String(value));
  }
  return form;
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

async function rest(
  server: FakeMoodle,
  wsfunction: string,
  params: Params = {},
  init: { token?: string | null; format?: string | null; method?: 'GET' | 'POST'; signal?: AbortSignal } = {},
): Promise<Answer> {
  const base: Params = { wsfunction };
  const token = init.token === undefined ? server.token : init.token;
  if (token !== null) base.wstoken = token;
  const format = init.format === undefined ? 'json' : init.format;
  if (format !== null) base.moodlewsrestformat = format;
  const form = phpForm({ ...base, ...params });
  const res =
    init.method === 'GET'
      ? await fetch(`${server.restUrl}?${form.toString()}`, { signal: init.signal })
      : await fetch(server.restUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form.toString(),
          signal: init.signal,
        });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

const student = (n: number, extra: Params = {}): Params => ({
  username: `test-a${40000000 + n}@eco.unrc.edu.ar`,
  password: 'Temp-Pass-1!',
  firstname: 'Ana',
  lastname: 'Pérez',
  email: `alumno${n}@gmail.com`,
  auth: 'manual',
  idnumber: String(40000000 + n),
  lang: 'es',
  ...extra,
});

async function createOk(server: FakeMoodle, ...users: Params[]): Promise<{ id: number; username: string }[]> {
  const res = await rest(server, 'core_user_create_users', { users });
  expect(res.status).toBe(200);
  return res.json() as { id: number; username: string }[];
}

const INVALID_PARAMETER = {
  exception: 'invalid_parameter_exception',
  errorcode: 'invalidparameter',
  message: 'Invalid parameter value detected',
};

describe('fake Moodle REST server', () => {
  it('answers core_webservice_get_site_info over POST and GET', async () => {
    const server = await start();
    for (const method of ['POST', 'GET'] as const) {
      const res = await rest(server, 'core_webservice_get_site_info', {}, { method });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const info = res.json() as Record<string, unknown>;
      expect(info).toMatchObject({ sitename: 'V.ECO', username: 'lucy-ws', userid: 3, siteurl: server.url });
      expect((info.functions as { name: string }[]).map((f) => f.name)).toContain('core_user_create_users');
    }
  });

  it('merges query-string and form variables, the form winning', async () => {
    const server = await start();
    const res = await fetch(`${server.restUrl}?wstoken=wrong&wsfunction=core_webservice_get_site_info`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `wstoken=${server.token}&moodlewsrestformat=json`,
    });
    expect(((await res.json()) as { userid: number }).userid).toBe(3);
  });

  it('rejects a wrong or missing token with HTTP 200 and invalidtoken', async () => {
    const server = await start({ debug: true });
    for (const token of ['nope', null]) {
      const res = await rest(server, 'core_webservice_get_site_info', {}, { token });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({
        exception: 'moodle_exception',
        errorcode: 'invalidtoken',
        message: 'Invalid token - token not found',
      });
    }
  });

  it("refuses a function missing from the token's service with accessexception", async () => {
    const server = await start({ functions: ['core_webservice_get_site_info'] });
    const res = await rest(server, 'core_user_delete_users', { userids: [4] });
    expect(res.json()).toEqual({
      exception: 'webservice_access_exception',
      errorcode: 'accessexception',
      message: 'Access control exception',
    });
    server.setDebug(true);
    const debug = (await rest(server, 'core_user_delete_users', { userids: [4] })).json() as {
      debuginfo: string;
    };
    expect(debug.debuginfo).toMatch(/^Access to the function core_user_delete_users\(\) is not allowed\./);
  });

  it('answers an unknown function with the missing external_functions record', async () => {
    const server = await start();
    expect((await rest(server, 'core_user_nonexistent')).json()).toEqual({
      exception: 'dml_missing_record_exception',
      errorcode: 'invalidrecord',
      message: "Can't find data record in database table external_functions.",
    });
    expect((await rest(server, '')).json()).toEqual(INVALID_PARAMETER);
  });

  it('hides the reason of an invalid parameter unless debugging is on', async () => {
    const server = await start();
    const user = student(1);
    delete user.email;
    const quiet = await rest(server, 'core_user_create_users', { users: [user] });
    expect(quiet.status).toBe(200);
    expect(quiet.json()).toEqual(INVALID_PARAMETER);

    server.setDebug(true);
    expect((await rest(server, 'core_user_create_users', { users: [user] })).json()).toEqual({
      ...INVALID_PARAMETER,
      debuginfo: 'users => Invalid parameter value detected: Missing required key in single structure: email',
    });
    expect((await rest(server, 'core_user_create_users', { users: 'x' })).json()).toMatchObject({
      debuginfo: "users => Invalid parameter value detected: Only arrays accepted. The bad value is: 'x'",
    });
    expect(
      (await rest(server, 'core_user_create_users', { users: [student(1, { foo: 1 })] })).json(),
    ).toMatchObject({
      debuginfo:
        'users => Invalid parameter value detected: Unexpected keys (foo) detected in parameter array.',
    });
  });

  it('validates PARAM types like clean_param: usernames lower case, booleans only 0/1, installed langs', async () => {
    const server = await start({ debug: true });
    const cases: [Params, string][] = [
      [
        { username: 'Test-A1@eco.unrc.edu.ar' },
        'users => Invalid parameter value detected: username => Invalid parameter value detected: Invalid external api parameter: the value is "Test-A1@eco.unrc.edu.ar", the server was expecting "username" type',
      ],
      [
        { createpassword: 'true' },
        'users => Invalid parameter value detected: createpassword => Invalid parameter value detected: Invalid external api parameter: the value is "true", the server was expecting "bool" type',
      ],
      [
        { lang: 'fr' },
        'users => Invalid parameter value detected: lang => Invalid parameter value detected: Invalid external api parameter: the value is "fr", the server was expecting "lang" type',
      ],
    ];
    for (const [extra, debuginfo] of cases) {
      const res = await rest(server, 'core_user_create_users', { users: [student(1, extra)] });
      expect(res.json()).toEqual({ ...INVALID_PARAMETER, debuginfo });
    }
    expect(server.state().users).toHaveLength(3);
  });
});

describe('core_user_create_users', () => {
  it('creates users and returns [{id, username}] in order', async () => {
    const server = await start();
    const created = await createOk(server, student(1), student(2, { auth: 'oidc', password: undefined }));
    expect(created).toEqual([
      { id: 4, username: 'test-a40000001@eco.unrc.edu.ar' },
      { id: 5, username: 'test-a40000002@eco.unrc.edu.ar' },
    ]);
    const [first, second] = server.state().users.slice(3);
    expect(first).toMatchObject({
      idnumber: '40000001',
      password: 'Temp-Pass-1!',
      lastname: 'Pérez',
      lang: 'es',
    });
    expect(second).toMatchObject({ auth: 'oidc', password: null });
    expect(server.state().calls.at(-1)).toMatchObject({
      wsfunction: 'core_user_create_users',
      format: 'json',
    });
  });

  it('fails the whole call on one bad user and does not reuse the ids it consumed', async () => {
    const server = await start({ debug: true });
    await createOk(server, student(1));
    const res = await rest(server, 'core_user_create_users', { users: [student(2), student(1)] });
    expect(res.json()).toEqual({
      ...INVALID_PARAMETER,
      debuginfo: 'Username already exists: test-a40000001@eco.unrc.edu.ar',
    });
    expect(server.state().users.map((u) => u.username)).not.toContain('test-a40000002@eco.unrc.edu.ar');
    expect(await createOk(server, student(3))).toEqual([
      { id: 6, username: 'test-a40000003@eco.unrc.edu.ar' },
    ]);
  });

  it('refuses a duplicate e-mail address, compared case-insensitively', async () => {
    const server = await start({ debug: true });
    await createOk(server, student(1));
    const res = await rest(server, 'core_user_create_users', {
      users: [student(2, { email: 'ALUMNO1@gmail.com' })],
    });
    expect(res.json()).toEqual({
      ...INVALID_PARAMETER,
      debuginfo: 'Email address already exists: ALUMNO1@gmail.com',
    });
    expect(server.state().users).toHaveLength(4);
  });

  it('accepts the same e-mail address when the site allows it', async () => {
    const server = await start({ allowAccountsSameEmail: true });
    await createOk(server, student(1));
    expect(await createOk(server, student(2, { email: 'alumno1@gmail.com' }))).toHaveLength(1);
  });

  it('checks blank names, auth plugins, passwords and e-mail syntax in core order', async () => {
    const server = await start({ debug: true });
    const cases: [Params, string][] = [
      [{ firstname: ' ' }, 'The field firstname cannot be blank'],
      [{ auth: 'mnet' }, 'Invalid authentication type: mnet'],
      [{ theme: 'classic' }, ''],
      [{ password: undefined }, 'Invalid password: you must provide a password, or set createpassword.'],
      [{ email: 'no-es-un-email' }, 'Email address is invalid: no-es-un-email'],
    ];
    for (const [extra, reason] of cases) {
      const user = Object.fromEntries(Object.entries(student(1, extra)).filter(([, v]) => v !== undefined));
      const res = await rest(server, 'core_user_create_users', { users: [user] });
      if (reason === '') {
        expect(res.json()).toEqual([{ id: expect.any(Number) as number, username: user.username }]);
        await rest(server, 'core_user_delete_users', { userids: [(res.json() as { id: number }[])[0]!.id] });
      } else {
        expect(res.json()).toEqual({ ...INVALID_PARAMETER, debuginfo: reason });
      }
    }
  });

  it('creates a user with createpassword=1 and no password', async () => {
    const server = await start();
    const user = student(1, { createpassword: 1 });
    delete user.password;
    await createOk(server, user);
    expect(server.state().users.at(-1)).toMatchObject({ createpassword: true, password: null });
  });

  it('escapes non-ASCII and slashes as PHP json_encode does', async () => {
    const server = await start();
    await createOk(server, student(1, { firstname: 'María José' }));
    const res = await rest(server, 'core_user_get_users_by_field', {
      field: 'idnumber',
      values: ['40000001'],
    });
    expect(res.text).toContain('"Mar\\u00eda Jos\\u00e9"');
    expect(res.text).toContain('http:\\/\\/');
    expect((res.json() as { firstname: string }[])[0]!.firstname).toBe('María José');
  });

  it('requires moodle/user:create', async () => {
    const server = await start({ capabilities: ['moodle/user:delete'] });
    expect((await rest(server, 'core_user_create_users', { users: [student(1)] })).json()).toEqual({
      exception: 'required_capability_exception',
      errorcode: 'nopermissions',
      message: 'Sorry, but you do not currently have permissions to do that (Create users).',
    });
  });
});

describe('core_user_get_users_by_field', () => {
  it('finds users by id, idnumber, username and email, ordered by id', async () => {
    const server = await start();
    const [a, b] = await createOk(server, student(1, { city: 'Río Cuarto' }), student(2));
    const by = async (field: string, values: unknown[]): Promise<{ id: number }[]> =>
      (await rest(server, 'core_user_get_users_by_field', { field, values })).json() as { id: number }[];
    expect((await by('id', [b!.id, a!.id])).map((u) => u.id)).toEqual([a!.id, b!.id]);
    expect((await by('idnumber', ['40000002'])).map((u) => u.id)).toEqual([b!.id]);
    expect((await by('email', ['alumno1@gmail.com'])).map((u) => u.id)).toEqual([a!.id]);
    const [found] = (await by('username', ['test-a40000001@eco.unrc.edu.ar'])) as Record<string, unknown>[];
    expect(found).toMatchObject({
      id: a!.id,
      username: 'test-a40000001@eco.unrc.edu.ar',
      firstname: 'Ana',
      lastname: 'Pérez',
      fullname: 'Ana Pérez',
      email: 'alumno1@gmail.com',
      idnumber: '40000001',
      auth: 'manual',
      suspended: false,
      city: 'Río Cuarto',
    });
    expect(found).not.toHaveProperty('password');
  });

  it('returns an empty array when nothing matches', async () => {
    const server = await start();
    const res = await rest(server, 'core_user_get_users_by_field', { field: 'username', values: ['nadie'] });
    expect(res.text).toBe('[]');
  });

  it('rejects an unsupported field and a value its type does not accept', async () => {
    const server = await start({ debug: true });
    expect(
      (await rest(server, 'core_user_get_users_by_field', { field: 'lastname', values: ['x'] })).json(),
    ).toEqual({
      exception: 'coding_exception',
      errorcode: 'codingerror',
      message: 'Coding error detected, it must be fixed by a programmer: invalid field parameter',
      debuginfo: "The search field 'lastname' is not supported, look at the web service documentation",
    });
    expect(
      (await rest(server, 'core_user_get_users_by_field', { field: 'id', values: ['abc'] })).json(),
    ).toEqual({
      ...INVALID_PARAMETER,
      debuginfo: "The field 'id' value is invalid: abc(cleaned value: 0)",
    });
  });
});

describe('core_user_delete_users', () => {
  it('deletes users, answers null and frees the username and e-mail', async () => {
    const server = await start();
    const [a] = await createOk(server, student(1));
    const res = await rest(server, 'core_user_delete_users', { userids: [a!.id] });
    expect(res.status).toBe(200);
    expect(res.text).toBe('null');
    const gone = await rest(server, 'core_user_get_users_by_field', { field: 'id', values: [a!.id] });
    expect(gone.json()).toEqual([]);
    const row = server.state().users.find((u) => u.id === a!.id)!;
    expect(row.deleted).toBe(true);
    expect(row.username).not.toBe('test-a40000001@eco.unrc.edu.ar');
    expect(await createOk(server, student(1))).toHaveLength(1);
  });

  it('refuses the site administrator and the token user', async () => {
    const server = await start();
    expect((await rest(server, 'core_user_delete_users', { userids: [2] })).json()).toEqual({
      exception: 'moodle_exception',
      errorcode: 'useradminodelete',
      message: 'Administrator accounts cannot be deleted',
    });
    expect((await rest(server, 'core_user_delete_users', { userids: [3] })).json()).toMatchObject({
      errorcode: 'usernotdeletederror',
    });
  });

  it('fails the whole call on a missing or already deleted id', async () => {
    const server = await start({ debug: true });
    const [a, b] = await createOk(server, student(1), student(2));
    await rest(server, 'core_user_delete_users', { userids: [b!.id] });
    for (const ids of [
      [a!.id, 999],
      [a!.id, b!.id],
    ]) {
      const body = (await rest(server, 'core_user_delete_users', { userids: ids })).json() as Record<
        string,
        string
      >;
      expect(body).toMatchObject({
        exception: 'dml_missing_record_exception',
        errorcode: 'invalidrecord',
        message: "Can't find data record in database table user.",
      });
      expect(body.debuginfo).toContain('SELECT * FROM {user} WHERE id = ? AND deleted = ?');
    }
    expect(server.state().users.find((u) => u.id === a!.id)!.deleted).toBe(false);
  });
});

describe('enrol_manual_enrol_users', () => {
  it('enrols users, answers null, and updates an existing enrolment', async () => {
    const server = await start();
    const [a] = await createOk(server, student(1));
    const i1 = server.state().courses.find((c) => c.shortname === 'I1')!;
    const enrol = (extra: Params = {}): Promise<Answer> =>
      rest(server, 'enrol_manual_enrol_users', {
        enrolments: [{ roleid: 5, userid: a!.id, courseid: i1.id, ...extra }],
      });
    expect((await enrol()).text).toBe('null');
    expect((await enrol({ suspend: 1, timeend: 1900000000 })).text).toBe('null');
    expect(server.state().enrolments).toEqual([
      expect.objectContaining({ courseid: i1.id, userid: a!.id, roleid: 5, status: 1, timeend: 1900000000 }),
    ]);
  });

  it('reports a missing course, the front page, an unassignable role and a missing user', async () => {
    const server = await start({ debug: true });
    const [a] = await createOk(server, student(1));
    const enrol = async (e: Params): Promise<unknown> =>
      (
        await rest(server, 'enrol_manual_enrol_users', {
          enrolments: [{ roleid: 5, userid: a!.id, courseid: 2, ...e }],
        })
      ).json();
    expect(await enrol({ courseid: 99 })).toEqual({
      ...INVALID_PARAMETER,
      debuginfo: 'Context does not exist',
    });
    expect(await enrol({ courseid: 1 })).toMatchObject({
      exception: 'moodle_exception',
      errorcode: 'wsnoinstance',
    });
    expect(await enrol({ roleid: 6 })).toMatchObject({
      exception: 'moodle_exception',
      errorcode: 'wsusercannotassign',
    });
    expect(await enrol({ userid: 999 })).toMatchObject({ errorcode: 'invalidrecord' });
    expect(server.state().enrolments).toEqual([]);
  });

  it('rolls back earlier enrolments of a failing call', async () => {
    const server = await start();
    const [a] = await createOk(server, student(1));
    const res = await rest(server, 'enrol_manual_enrol_users', {
      enrolments: [
        { roleid: 5, userid: a!.id, courseid: 2 },
        { roleid: 5, userid: a!.id, courseid: 99 },
      ],
    });
    expect(res.json()).toEqual(INVALID_PARAMETER);
    expect(server.state().enrolments).toEqual([]);
  });
});

describe('fake Moodle XML format', () => {
  it('answers XML when moodlewsrestformat is not json, errors and results alike', async () => {
    const server = await start();
    const err = await rest(server, 'core_webservice_get_site_info', {}, { token: 'nope', format: null });
    expect(err.status).toBe(200);
    expect(err.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    expect(err.text).toBe(
      '<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="moodle_exception">\n' +
        '<ERRORCODE>invalidtoken</ERRORCODE>\n<MESSAGE>Invalid token - token not found</MESSAGE>\n</EXCEPTION>\n',
    );
    const ok = await rest(server, 'core_user_create_users', { users: [student(1)] }, { format: 'xml' });
    expect(ok.text).toContain('<MULTIPLE>\n<SINGLE>\n<KEY name="id"><VALUE>4</VALUE>\n</KEY>');
  });
});

describe('fake Moodle faults', () => {
  it('answers 500 and 503 with HTML pages', async () => {
    const server = await start();
    server.setFaults({ status500: 1, status503: 1 });
    const first = await rest(server, 'core_webservice_get_site_info');
    expect(first.status).toBe(500);
    expect(first.headers.get('content-type')).toMatch(/^text\/html/);
    const second = await rest(server, 'core_webservice_get_site_info');
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('300');
    expect((await rest(server, 'core_webservice_get_site_info')).status).toBe(200);
    expect(server.state().requests.faults).toBe(2);
  });

  it('answers 200 with an HTML error page instead of JSON', async () => {
    const server = await start();
    server.setFaults({ html: true });
    const res = await rest(server, 'core_webservice_get_site_info');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(() => res.json()).toThrow(SyntaxError);
    server.clearFaults();
    expect((await rest(server, 'core_webservice_get_site_info')).headers.get('content-type')).toBe(
      'application/json',
    );
  });

  it('rejects a valid token under the invalidToken fault, only for the chosen functions', async () => {
    const server = await start();
    server.setFaults({ invalidToken: { count: 1, functions: ['core_user_delete_users'] } });
    expect((await rest(server, 'core_webservice_get_site_info')).json()).toMatchObject({ userid: 3 });
    expect((await rest(server, 'core_user_delete_users', { userids: [2] })).json()).toMatchObject({
      errorcode: 'invalidtoken',
    });
    expect((await rest(server, 'core_user_delete_users', { userids: [2] })).json()).toMatchObject({
      errorcode: 'useradminodelete',
    });
  });

  it('hangs under the timeout fault and adds latency', async () => {
    const server = await start();
    server.setFaults({ timeout: 1 });
    await expect(
      rest(server, 'core_webservice_get_site_info', {}, { signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow();
    server.setFaults({ latencyMs: 80 });
    const started = performance.now();
    expect((await rest(server, 'core_webservice_get_site_info')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it('is controlled and inspected over HTTP', async () => {
    const server = await start();
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(server.url + path, { method: 'POST', body: JSON.stringify(body) });
    expect((await post('/__fake/faults', { status500: { count: 1 } })).status).toBe(200);
    expect((await rest(server, 'core_webservice_get_site_info')).status).toBe(500);
    const bad = await post('/__fake/faults', { nope: true });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'unknown fault "nope"' });
    const added = (await (await post('/__fake/users', { username: 'seeded', email: 's@x.ar' })).json()) as {
      id: number;
    };
    expect(added.id).toBe(4);
    expect((await post('/__fake/debug', { enabled: true })).status).toBe(200);
    const state = (await (await fetch(`${server.url}/__fake/state`)).json()) as {
      users: unknown[];
      debug: boolean;
      requests: { rest: number };
    };
    expect(state).toMatchObject({ debug: true, requests: { rest: 1 } });
    expect(state.users).toHaveLength(4);
    const reset = (await (await post('/__fake/reset', {})).json()) as { users: unknown[]; debug: boolean };
    expect(reset.users).toHaveLength(3);
    expect(reset.debug).toBe(false);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
