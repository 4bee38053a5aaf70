/**
 * The SMTP credentials staff replace from the admin's Configuración (issue 13), against the real NATS, Postgres
 * and an SMTP server that requires AUTH: write-only (the password is in no answer, row, Log, published message or
 * log line), a wrong one fails the next e-mail's Tarea with a clear reason, the right one makes the next e-mail go
 * out without a restart, other replicas pick a change up, validation, and the re-seal after a key rotation.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary, toJsonString } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { createRpcClient, createSecretBox, parseSecretKeys, type SecretBox } from '@lucy/platform';
import {
  BadRequestSchema,
  GetConfiguracionCorreoResponseSchema,
  LogEventSchema,
  NotifierService,
  TipoEmail,
  UpdateConfiguracionCorreoResponseSchema,
} from '@lucy/proto';
import { captureLogger, createTestNats, readStream, TEST_TOKEN, waitFor, type TestNats } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startNotifierService, type NotifierServiceHandle } from '../src/service.js';
import { createMailSettings, resealMailSettings, SMTP_PASSWORD_AAD } from '../src/settings.js';
import { harnessEnv, startHarness, type Harness } from './harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const KEY1 = `k1:${randomBytes(32).toString('base64')}`;
const KEY2 = `k2:${randomBytes(32).toString('base64')}`;
const RELAY_USER = 'notificador@fce.unrc.edu.ar';
const RELAY_PASSWORD = 'Relay-Correcta#5521 ñ';
const WRONG_PASSWORD = 'Relay-Vieja#0007';
const OTHER_PASSWORD = 'Relay-Otra#3141';
const SECRETS = [RELAY_PASSWORD, WRONG_PASSWORD, OTHER_PASSWORD];

const { logger, text: logged } = captureLogger('notifier', 'debug');
let h: Harness;
const extra: { services: NotifierServiceHandle[]; nats: TestNats[] } = { services: [], nats: [] };

beforeAll(async () => {
  h = await startHarness('notifier_smtp_cfg', {
    logger,
    // Mid-rotation ring: k1 seals, k2 is already known (the re-seal below makes k2 current).
    env: { LUCY_SECRET_KEYS: `${KEY1},${KEY2}`, LUCY_SECRET_KEY_ID: 'k1' },
    // The relay accepts only these credentials; the deployment sets none (SMTP_USER/SMTP_PASSWORD unset).
    sink: { auth: { user: RELAY_USER, password: RELAY_PASSWORD } },
  });
}, 30_000);
afterAll(async () => {
  for (const s of extra.services) await s.stop().catch(() => undefined);
  for (const t of extra.nats) await t.cleanup().catch(() => undefined);
  await h?.stop();
});

const boxOf = (ring: string, current: string): SecretBox =>
  createSecretBox({ keys: parseSecretKeys(ring), currentKeyId: current });

let n = 0;
function alumno() {
  n++;
  const id = `0193a1b2-0000-7000-8000-${String(n).padStart(12, '0')}`;
  h.directory.alumnos.set(id, {
    id,
    nombre: 'Ana',
    apellido: 'Pérez',
    dni: String(41_000_000 + n),
    emailPersonal: `ana.cfg${n}@gmail.com`,
  });
  return { id, email: `ana.cfg${n}@gmail.com` };
}

/** The violations of an InvalidArgument, field → description. */
async function violations(call: Promise<unknown>): Promise<Record<string, string>> {
  try {
    await call;
  } catch (err) {
    const ce = ConnectError.from(err);
    expect(ce.code).toBe(Code.InvalidArgument);
    return Object.fromEntries(
      ce.findDetails(BadRequestSchema).flatMap((d) => d.violations.map((v) => [v.field, v.description])),
    );
  }
  throw new Error('expected InvalidArgument');
}

async function storedRow(): Promise<{ text: string; sealed: string } | undefined> {
  const res = await h.service.knex.raw<{ rows: { text: string; sealed: string }[] }>(
    'select row_to_json(c)::text as text, c.smtp_password_sealed as sealed from notify.configuracion c',
  );
  return res.rows[0];
}

/** A second notifier on the same database, with a stream prefix of its own (its worker takes no e-mail here). */
async function replica(env: Record<string, string>): Promise<NotifierServiceHandle> {
  const t = await createTestNats();
  extra.nats.push(t);
  const service = await startNotifierService(
    loadConfig(harnessEnv({ sink: h.sink, directory: h.directory, db: h.db, t }, env)),
    { logger },
  );
  extra.services.push(service);
  return service;
}

describe('SMTP credentials from the Configuración', () => {
  it('reads the relay settings before any change: no credentials, nothing changed', async () => {
    const { configuracion } = await h.notifier.getConfiguracionCorreo({});
    expect(configuracion).toMatchObject({
      servidor: `${h.sink.host}:${h.sink.port}`,
      usuario: '',
      passwordConfigurada: false,
      credencialesOrigen: '',
      remitente: 'Facultad de Ciencias Económicas - UNRC <no-reply@v.eco.unrc.edu.ar>',
      actualizadoPor: '',
    });
    expect(configuracion?.actualizadoEn).toBeUndefined();
  });

  it('refuses invalid values naming each field in Spanish, and stores nothing', async () => {
    const empty = await violations(
      h.notifier.updateConfiguracionCorreo({ usuario: ' ', password: '', requestedBy: '' }),
    );
    expect(empty).toEqual({
      usuario: 'Indique el usuario SMTP.',
      password: 'Indique la contraseña SMTP.',
      requested_by: 'Indique quién hace el cambio.',
    });

    const controls = await violations(
      h.notifier.updateConfiguracionCorreo({
        usuario: 'lucy\r\nMAIL FROM:<x@y>',
        password: `${WRONG_PASSWORD}\t`,
        requestedBy: 'admin.correo',
      }),
    );
    expect(controls.usuario).toMatch(/^El usuario SMTP no puede contener caracteres de control/);
    expect(controls.password).toMatch(/^La contraseña SMTP no puede contener caracteres de control/);

    const long = await violations(
      h.notifier.updateConfiguracionCorreo({
        usuario: 'u'.repeat(201),
        password: `${WRONG_PASSWORD}${'x'.repeat(500)}`,
        requestedBy: 'admin.correo',
      }),
    );
    expect(long.usuario).toContain('200');
    expect(long.password).toContain('500');
    // A NUL is refused before the handler, still naming the field and never quoting the value.
    const nul = await violations(
      h.notifier.updateConfiguracionCorreo({
        usuario: RELAY_USER,
        password: `${WRONG_PASSWORD}\u0000`,
        requestedBy: 'admin.correo',
      }),
    );
    expect(nul.password).toMatch(/^La contraseña SMTP contiene caracteres no válidos/);
    for (const text of [...Object.values(controls), ...Object.values(long), ...Object.values(nul)])
      expect(text).not.toContain(WRONG_PASSWORD);

    expect(await storedRow()).toBeUndefined();
    expect((await h.notifier.getConfiguracionCorreo({})).configuracion?.credencialesOrigen).toBe('');
  });

  it('fails the next e-mail with a clear reason when the stored password is wrong', async () => {
    const { configuracion } = await h.notifier.updateConfiguracionCorreo({
      usuario: ` ${RELAY_USER} `,
      password: WRONG_PASSWORD,
      requestedBy: 'admin.correo',
    });
    expect(configuracion).toMatchObject({
      usuario: RELAY_USER,
      passwordConfigurada: true,
      credencialesOrigen: 'personal',
      actualizadoPor: 'admin.correo',
    });
    expect(configuracion?.actualizadoEn).toBeDefined();

    const a = alumno();
    const taskId = await h.enviar({ alumnoId: a.id, tipo: TipoEmail.BIENVENIDA });
    const failed = await h.failed(taskId);
    expect(failed.mensajeError).toContain(`rechazó las credenciales del usuario «${RELAY_USER}»`);
    expect(failed.mensajeError).toContain('535');
    expect(failed.mensajeError).toContain('Configuración del admin');
    expect(failed.mensajeError).not.toContain(WRONG_PASSWORD);
    expect(h.sink.messages().filter((m) => m.envelope.to.includes(a.email))).toEqual([]);
  });

  it('sends the next e-mail with the right password, without a restart', async () => {
    await h.notifier.updateConfiguracionCorreo({
      usuario: RELAY_USER,
      password: RELAY_PASSWORD,
      requestedBy: 'admin.correo',
    });
    const a = alumno();
    const taskId = await h.enviar({ alumnoId: a.id, tipo: TipoEmail.BIENVENIDA });
    await h.succeeded(taskId);
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes(a.email), 5_000);
    expect(mail.authUser).toBe(RELAY_USER);
    expect(h.sink.messages().filter((m) => m.envelope.to.includes(a.email))).toHaveLength(1);
  });

  it('never shows the password: not in an answer, the table, a Log, a published message or a log line', async () => {
    const get = await h.notifier.getConfiguracionCorreo({});
    const update = await h.notifier.updateConfiguracionCorreo({
      usuario: RELAY_USER,
      password: RELAY_PASSWORD,
      requestedBy: 'admin.correo',
    });
    const answers = [
      toJsonString(GetConfiguracionCorreoResponseSchema, get),
      toJsonString(UpdateConfiguracionCorreoResponseSchema, update),
    ];
    const row = await storedRow();
    expect(row?.sealed).toMatch(/^v2:k1:/);
    // Bound to its table, row and field: it opens only under that associated data.
    const box = boxOf(KEY1, 'k1');
    expect(box.open(row!.sealed, SMTP_PASSWORD_AAD)).toBe(RELAY_PASSWORD);
    expect(() => box.open(row!.sealed, 'notify.configuracion:1:smtp_usuario')).toThrow();

    const published = (
      await Promise.all(
        [h.t.names.streams.cmd, h.t.names.streams.evt, h.t.names.streams.dlq].map((s) =>
          readStream(h.t.handles, s).catch(() => []),
        ),
      )
    ).flat();
    const logs = published
      .filter((m) => m.subject.startsWith(h.t.names.evt('log', '')))
      .map((m) => fromBinary(LogEventSchema, m.data));
    const changes = logs.filter((l) => l.message.includes('credenciales SMTP reemplazadas'));
    expect(changes.length).toBeGreaterThanOrEqual(3);
    expect(changes[0]).toMatchObject({ module: 'notifier', usuario: 'admin.correo' });
    expect(changes[0]?.message).toContain(`usuario «${RELAY_USER}»`);

    const haystacks: [string, string][] = [
      ...answers.map((a, i): [string, string] => [`answer ${i}`, a]),
      ['the row', row!.text],
      ['the service log', logged()],
      ...published.flatMap((m): [string, string][] => [
        [m.subject, Buffer.from(m.data).toString('latin1')],
        [m.subject, Buffer.from(m.data).toString('utf8')],
      ]),
    ];
    for (const secret of SECRETS)
      for (const [where, text] of haystacks) expect(text.includes(secret), `found in ${where}`).toBe(false);
  });

  it('another replica picks a change up within NOTIFY_SETTINGS_REFRESH_MS', async () => {
    const b = await replica({ LUCY_SECRET_KEYS: KEY1, NOTIFY_SETTINGS_REFRESH_MS: '1000' });
    const clientB = createRpcClient(NotifierService, { baseUrl: b.rpc.url, token: TEST_TOKEN });
    expect((await clientB.getConfiguracionCorreo({})).configuracion).toMatchObject({
      usuario: RELAY_USER,
      credencialesOrigen: 'personal',
    });
    expect(b.settings.credentials?.password).toBe(RELAY_PASSWORD);

    await h.notifier.updateConfiguracionCorreo({
      usuario: 'otro@fce.unrc.edu.ar',
      password: OTHER_PASSWORD,
      requestedBy: 'otra.persona',
    });
    await waitFor(async () => b.settings.credentials?.password === OTHER_PASSWORD || undefined, {
      what: 'the replica reloading the credentials',
      timeoutMs: 5_000,
      intervalMs: 100,
    });
    expect((await clientB.getConfiguracionCorreo({})).configuracion).toMatchObject({
      usuario: 'otro@fce.unrc.edu.ar',
      actualizadoPor: 'otra.persona',
    });

    // Back to the relay's credentials for the rest of the file.
    await h.notifier.updateConfiguracionCorreo({
      usuario: RELAY_USER,
      password: RELAY_PASSWORD,
      requestedBy: 'admin.correo',
    });
  });

  it('without LUCY_SECRET_KEYS a replica uses the deployment credentials and refuses to store a password', async () => {
    const c = await replica({ SMTP_USER: 'despliegue@fce.unrc.edu.ar', SMTP_PASSWORD: 'de-despliegue' });
    const clientC = createRpcClient(NotifierService, { baseUrl: c.rpc.url, token: TEST_TOKEN });
    expect((await clientC.getConfiguracionCorreo({})).configuracion).toMatchObject({
      usuario: 'despliegue@fce.unrc.edu.ar',
      passwordConfigurada: true,
      credencialesOrigen: 'despliegue',
    });
    const refused = await violations(
      clientC.updateConfiguracionCorreo({
        usuario: RELAY_USER,
        password: OTHER_PASSWORD,
        requestedBy: 'admin.correo',
      }),
    );
    expect(Object.keys(refused)).toEqual(['password']);
    expect(refused.password).toContain('LUCY_SECRET_KEYS');
    // Nothing was stored by the refused change.
    await h.service.settings.load();
    expect(h.service.settings.credentials?.password).toBe(RELAY_PASSWORD);
  });

  it('re-seals the stored password with the new key after a rotation (the reseal entry point)', async () => {
    const before = (await storedRow())!.sealed;
    expect(before).toMatch(/^v2:k1:/);
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/reseal.ts')], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATABASE_URL: h.db.url,
          LUCY_SECRET_KEYS: `${KEY2},${KEY1}`,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    expect(code).toBe(0);

    const after = (await storedRow())!.sealed;
    expect(after).toMatch(/^v2:k2:/);
    // Nothing left to re-seal; the old key can leave the ring.
    expect(await resealMailSettings(h.service.knex, boxOf(`${KEY2},${KEY1}`, 'k2'))).toBe(false);
    const onlyNew = createMailSettings({
      knex: h.service.knex,
      box: boxOf(KEY2, 'k2'),
      defaults: { user: undefined, password: undefined },
    });
    await onlyNew.load();
    expect(onlyNew.credentials).toEqual({ user: RELAY_USER, password: RELAY_PASSWORD, origin: 'personal' });

    // A replica whose ring lost the key falls back to the deployment's credentials and says why, once.
    const errors: unknown[] = [];
    const onlyOld = createMailSettings({
      knex: h.service.knex,
      box: boxOf(KEY1, 'k1'),
      defaults: { user: undefined, password: undefined },
      onError: (err) => errors.push(err),
    });
    await onlyOld.load();
    await onlyOld.load();
    expect(onlyOld.credentials).toBeUndefined();
    expect(errors).toHaveLength(1);

    // The running service, whose ring holds both keys, opens the re-sealed password: the next e-mail goes out.
    await h.service.settings.load();
    expect(h.service.settings.credentials?.password).toBe(RELAY_PASSWORD);
    const a = alumno();
    await h.succeeded(await h.enviar({ alumnoId: a.id, tipo: TipoEmail.BIENVENIDA }));
    expect((await h.sink.waitFor((m) => m.envelope.to.includes(a.email), 5_000)).authUser).toBe(RELAY_USER);
  });

  it('staff can forget the stored credentials: the deployment’s are used again, by every replica', async () => {
    const c = await replica({
      LUCY_SECRET_KEYS: `${KEY1},${KEY2}`,
      LUCY_SECRET_KEY_ID: 'k2',
      SMTP_USER: 'despliegue@fce.unrc.edu.ar',
      SMTP_PASSWORD: 'de-despliegue',
    });
    const tc = extra.nats.at(-1)!; // the replica's own stream prefix
    const clientC = createRpcClient(NotifierService, { baseUrl: c.rpc.url, token: TEST_TOKEN });
    expect((await clientC.getConfiguracionCorreo({})).configuracion).toMatchObject({
      usuario: RELAY_USER,
      credencialesOrigen: 'personal',
    });
    // New credentials and «back to the deployment's» at once: refused, naming the field, nothing changed.
    const both = await violations(
      clientC.updateConfiguracionCorreo({
        usuario: RELAY_USER,
        password: OTHER_PASSWORD,
        restablecer: true,
        requestedBy: 'admin.correo',
      }),
    );
    expect(Object.keys(both)).toEqual(['restablecer']);
    expect(both.restablecer).toContain('no las dos cosas');
    const anonimo = await violations(
      clientC.updateConfiguracionCorreo({ usuario: '', password: '', restablecer: true, requestedBy: ' ' }),
    );
    expect(Object.keys(anonimo)).toEqual(['requested_by']);
    expect((await storedRow())?.sealed).toMatch(/^v2:/);

    const { configuracion } = await clientC.updateConfiguracionCorreo({
      usuario: '',
      password: '',
      restablecer: true,
      requestedBy: 'admin.correo',
    });
    expect(configuracion).toMatchObject({
      usuario: 'despliegue@fce.unrc.edu.ar',
      passwordConfigurada: true,
      credencialesOrigen: 'despliegue',
      actualizadoPor: 'admin.correo',
    });
    const row = JSON.parse((await storedRow())!.text) as Record<string, unknown>;
    expect(row).toMatchObject({ smtp_usuario: null, smtp_password_sealed: null });
    // The Log names the deployment's user this change went back to.
    const olvido = (await readStream(tc.handles, tc.names.streams.evt))
      .filter((m) => m.subject.startsWith(tc.names.evt('log', '')))
      .map((m) => fromBinary(LogEventSchema, m.data))
      .filter((l) => l.message.includes('credenciales SMTP guardadas en Lucy olvidadas'));
    expect(olvido.at(-1)?.message).toContain('usuario «despliegue@fce.unrc.edu.ar»');
    // Forgetting needs no key: a replica without LUCY_SECRET_KEYS can do it too.
    const sinClave = createMailSettings({
      knex: h.service.knex,
      box: undefined,
      defaults: { user: undefined, password: undefined },
    });
    expect(
      await sinClave.update(
        { usuario: '', password: '', restablecer: true, requestedBy: 'admin.correo' },
        new Date(),
      ),
    ).toEqual([]);
    // The other replica (no deployment credentials) drops the stored ones at its next reload.
    await h.service.settings.load();
    expect(h.service.settings.credentials).toBeUndefined();
    expect((await h.notifier.getConfiguracionCorreo({})).configuracion).toMatchObject({
      usuario: '',
      passwordConfigurada: false,
      credencialesOrigen: '',
    });
  });
});
