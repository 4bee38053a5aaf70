/** The Moodle adapter against @lucy/fake-moodle over real HTTP, with its fault switches. */
import { createFakeMoodle, type FakeMoodle } from '@lucy/fake-moodle';
import { PermanentError, TransientError } from '@lucy/platform';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMoodleClient,
  encodePhpParams,
  MOODLE_ERROR,
  MoodleUserExistsError,
  type MoodleClient,
  type MoodleClientOptions,
  type NewMoodleUser,
} from '../src/adapters/index.js';
import { captureLogger, makeTestClock, rejectionOf, type TestClock } from './support.js';

let fake: FakeMoodle | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(
  fakeOptions: Parameters<typeof createFakeMoodle>[0] = {},
  clientOptions: Partial<MoodleClientOptions> = {},
): Promise<{ fake: FakeMoodle; moodle: MoodleClient; clock: TestClock }> {
  const clock = makeTestClock();
  fake = await createFakeMoodle({ port: 0, ...fakeOptions });
  const moodle = createMoodleClient({
    baseUrl: `${fake.url}/`,
    token: fake.token,
    clock,
    random: () => 1,
    ...clientOptions,
  });
  return { fake, moodle, clock };
}

const alumno = (dni: string): NewMoodleUser => ({
  username: `test-a${dni}@alumnos.example.edu.ar`,
  firstname: 'María José',
  lastname: 'Pérez',
  email: `test-a${dni}@alumnos.example.edu.ar`,
  idnumber: dni,
  auth: 'oidc',
});

describe('PHP array encoding', () => {
  it('flattens nested arrays and objects, booleans as 1/0, skipping undefined', () => {
    expect(
      encodePhpParams({
        users: [{ username: 'a', createpassword: true, password: undefined }],
        userids: [4, 5],
      }),
    ).toEqual([
      ['users[0][username]', 'a'],
      ['users[0][createpassword]', '1'],
      ['userids[0]', '4'],
      ['userids[1]', '5'],
    ]);
  });
});

describe('Moodle client: operations', () => {
  it('checks the site, creates, finds by username and idnumber, enrols and deletes a user', async () => {
    const { fake, moodle } = await setup();
    const info = await moodle.getSiteInfo();
    expect(info).toMatchObject({ sitename: 'V.ECO', username: 'lucy-ws' });
    expect(info.functions).toContain('core_user_create_users');

    const created = await moodle.createUser(alumno('40111222'));
    expect(created.username).toBe('test-a40111222@alumnos.example.edu.ar');
    const [byIdnumber] = await moodle.getUsersByField('idnumber', ['40111222']);
    expect(byIdnumber).toMatchObject({
      id: created.id,
      firstname: 'María José',
      auth: 'oidc',
      suspended: false,
    });
    expect((await moodle.getUsersByField('username', [created.username])).map((u) => u.id)).toEqual([
      created.id,
    ]);
    expect(await moodle.getUsersByField('email', ['nadie@example.com'])).toEqual([]);

    await moodle.enrolUsers([{ roleid: 5, userid: created.id, courseid: 2 }]);
    expect(fake.state().enrolments).toEqual([
      expect.objectContaining({ userid: created.id, courseid: 2, roleid: 5 }),
    ]);

    await moodle.deleteUsers([created.id]);
    expect(await moodle.getUsersByField('idnumber', ['40111222'])).toEqual([]);
  });

  it('reports a taken username as "ya existe", with site debugging on', async () => {
    const { moodle } = await setup({ debug: true });
    await moodle.createUser(alumno('40111223'));
    const err = await rejectionOf(moodle.createUser(alumno('40111223')));
    expect(err).toBeInstanceOf(MoodleUserExistsError);
    expect((err as MoodleUserExistsError).username).toBe('test-a40111223@alumnos.example.edu.ar');
  });

  it('reports a taken username as "ya existe" also without debuginfo, by looking it up', async () => {
    const { fake, moodle } = await setup({ debug: false });
    await moodle.createUser(alumno('40111224'));
    const err = await rejectionOf(moodle.createUser(alumno('40111224')));
    expect(err).toBeInstanceOf(MoodleUserExistsError);
    expect(err.message).toContain('Ya existe el usuario test-a40111224@alumnos.example.edu.ar en Moodle');
    expect(fake.state().requests.byFunction.core_user_get_users_by_field).toBe(1);
  });

  it('keeps other invalid parameters permanent and says where the reason is', async () => {
    const { moodle } = await setup({ debug: false });
    const err = await rejectionOf(moodle.createUser({ ...alumno('40111225'), username: 'Con Mayúsculas' }));
    expect((err as PermanentError).code).toBe(MOODLE_ERROR.invalidParameter);
    expect(err.message).toContain('active la depuración del sitio');
  });
});

describe('Moodle client: failures', () => {
  it('treats an invalid token as a permanent configuration error, without retrying', async () => {
    const { fake, moodle, clock } = await setup();
    fake.setFaults({ invalidToken: true });
    const err = await rejectionOf(moodle.getSiteInfo());
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(MOODLE_ERROR.configuration);
    expect(err.message).toContain('Revise MOODLE_TOKEN');
    expect(err.message).not.toContain(fake.token);
    expect(clock.slept).toEqual([]);
  });

  it('treats a function the token may not call as a configuration error', async () => {
    const { moodle } = await setup({ functions: ['core_webservice_get_site_info'] });
    const err = await rejectionOf(moodle.deleteUsers([4]));
    expect((err as PermanentError).code).toBe(MOODLE_ERROR.configuration);
    expect(err.message).toContain('accessexception');
  });

  it('retries an HTML page instead of JSON and a 500, then succeeds', async () => {
    const { fake, moodle, clock } = await setup({}, { backoffMs: 100 });
    fake.setFaults({ html: 1, status500: 1 });
    expect(await moodle.getUsersByField('username', ['nadie'])).toEqual([]);
    expect(clock.slept).toEqual([100, 200]);
    expect(fake.state().requests.faults).toBe(2);
  });

  it('gives up on a site that keeps failing with a TransientError', async () => {
    const { logger, text } = captureLogger();
    const { fake, moodle, clock } = await setup({}, { retries: 2, logger });
    fake.setFaults({ status503: true });
    const err = await rejectionOf(
      moodle.createUser({ ...alumno('40111226'), auth: 'manual', password: 'Clave#Moodle-77' }),
    );
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe(MOODLE_ERROR.unavailable);
    expect(err.message).toContain('HTTP 503');
    expect(err.message).toContain('tras 3 intentos');
    expect(clock.slept).toHaveLength(2);
    expect(text()).toContain('reintento');
    expect(text()).not.toContain('Clave#Moodle-77');
    expect(text()).not.toContain(fake.token);
  });

  it('times out a Moodle that never answers', async () => {
    const { fake, moodle } = await setup({}, { timeoutMs: 150, retries: 0 });
    fake.setFaults({ timeout: 1 });
    const err = await rejectionOf(moodle.getSiteInfo());
    expect(err).toBeInstanceOf(TransientError);
    expect(err.message).toContain('Moodle no respondió en 150 ms');
  });
});
