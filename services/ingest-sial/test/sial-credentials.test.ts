/**
 * Issue 13, against the fake SIAL, the real NATS and Postgres: the SIAL credentials staff replace in the
 * Configuración are write-only (never in an RPC answer, never in clear in the table, never in a published message
 * or Log), sealed with the secret box and used from the next SIAL request without a restart; a wrong stored password
 * fails the next ingestion with a clear error; invalid changes are refused naming the field; a key rotation
 * re-seals the stored password; without LUCY_SECRET_KEYS a password is refused and everything else works.
 */
import { randomBytes } from 'node:crypto';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { createSecretBox } from '@lucy/platform';
import { LogEventSchema, TipoIngesta } from '@lucy/proto';
import { readStream, waitFor } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSialCredentialStore,
  resealSialCredentials,
  SIAL_PASSWORD_AAD,
} from '../src/sial-credentials.js';
import { startHarness, type Harness } from './harness.js';

const KEY_1 = randomBytes(32);
const KEYS = `k1:${KEY_1.toString('base64')}`;
const DEPLOYMENT = { user: 'usuario', password: 'contrasena' };
/** SIAL's new pair after a rotation at SIAL's end. */
const SIAL_USER = 'lucy-sial';
const ROTATED = 'Rotada-Q7p!x 9:z#0123';
const WRONG = 'Equivocada-W4k-0123456';

const rejection = async (p: Promise<unknown>): Promise<ConnectError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
};
const json = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x));

describe('SIAL credentials in the Configuración (with LUCY_SECRET_KEYS)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      { sizes: { preinscriptos: 3, aspirantes: 6, ingresantes: 3 } },
      'ingest_sial_cred',
      {
        env: { LUCY_SECRET_KEYS: KEYS, SIAL_CREDENTIALS_REFRESH_MS: '1000' },
      },
    );
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  /** Every byte published on the test's streams (commands, events with Logs, dead letters). */
  const published = async () => {
    const all = await Promise.all(
      [h.t.names.streams.cmd, h.t.names.streams.evt, h.t.names.streams.dlq].map((s) =>
        readStream(h.t.handles, s).catch(() => []),
      ),
    );
    return Buffer.concat(all.flat().map((m) => Buffer.from(m.data))).toString('latin1');
  };
  /** The Log rows of configuration changes (no Tarea). */
  const configLogs = async () =>
    (await readStream(h.t.handles, h.t.names.streams.evt))
      .filter((m) => m.subject.startsWith(h.t.names.evt('log', '')))
      .map((m) => fromBinary(LogEventSchema, m.data))
      .filter((l) => l.detalles?.accion === 'configuracion');

  it('starts with the deployment’s pair, which the answer names without its password', async () => {
    const { configuracion } = await h.ingest.getConfiguracion({});
    expect(configuracion).toMatchObject({
      sialUsuario: DEPLOYMENT.user,
      sialPasswordConfigurada: true,
      sialCredencialesOrigen: 'despliegue',
    });
    expect(json(configuracion)).not.toContain(DEPLOYMENT.password);
  });

  it('refuses an invalid change naming the field, stores nothing and never echoes the value', async () => {
    const cases: [{ sialUsuario?: string; sialPassword?: string }, string, RegExp][] = [
      [{ sialUsuario: SIAL_USER }, 'sial_password', /usuario y la contraseña se reemplazan juntos/],
      [{ sialPassword: WRONG }, 'sial_usuario', /usuario y la contraseña se reemplazan juntos/],
      [{ sialUsuario: '', sialPassword: WRONG }, 'sial_usuario', /no puede estar vacío/],
      [{ sialUsuario: 'u'.repeat(201), sialPassword: WRONG }, 'sial_usuario', /como máximo 200/],
      [{ sialUsuario: 'con:dos', sialPassword: WRONG }, 'sial_usuario', /«:»/],
      [{ sialUsuario: SIAL_USER, sialPassword: '' }, 'sial_password', /no puede estar vacía/],
      [{ sialUsuario: SIAL_USER, sialPassword: 'p'.repeat(501) }, 'sial_password', /como máximo 500/],
      [{ sialUsuario: SIAL_USER, sialPassword: `${WRONG}\n` }, 'sial_password', /no válidos/],
      [{ sialUsuario: `a\u0000b`, sialPassword: WRONG }, 'sial_usuario', /no válidos/],
    ];
    for (const [change, field, message] of cases) {
      const err = await rejection(h.ingest.updateConfiguracion({ ...change, requestedBy: 'ana' }));
      expect(err.code, field).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain(field);
      expect(err.rawMessage).toMatch(message);
      expect(err.rawMessage).not.toContain(WRONG);
    }
    const { configuracion } = await h.ingest.getConfiguracion({});
    expect(configuracion?.sialCredencialesOrigen).toBe('despliegue');
    expect(configuracion?.actualizadoPor).not.toBe('ana');
  });

  it('a wrong stored password fails the next ingestion clearly; the right one works from the next request, no restart', async () => {
    // SIAL's password was rotated: the deployment's pair no longer works.
    h.fake.setCredentials({ user: SIAL_USER, password: ROTATED });
    await h.openWindow(TipoIngesta.ASPIRANTES);

    // Only the credentials (no `configuracion`): the windows stay as they are.
    const stored = await h.ingest.updateConfiguracion({
      sialUsuario: SIAL_USER,
      sialPassword: WRONG,
      requestedBy: 'ana',
    });
    expect(stored.configuracion).toMatchObject({
      sialUsuario: SIAL_USER,
      sialPasswordConfigurada: true,
      sialCredencialesOrigen: 'personal',
      actualizadoPor: 'ana',
    });
    expect(json(stored.configuracion)).not.toContain(WRONG);
    const aspirantes = stored.configuracion!.ventanas.find((v) => v.tipo === TipoIngesta.ASPIRANTES)!;
    expect(aspirantes.diaInicio).toBeDefined();

    const failed = await h.failed(await h.runPeriodic('aspirantes'));
    expect(failed.willRetry).toBe(false);
    expect(failed.mensajeError).toContain(
      `SIAL rechazó las credenciales del usuario «${SIAL_USER}» (HTTP 401)`,
    );
    expect(failed.mensajeError).toContain('Son las guardadas en la Configuración');
    expect(failed.mensajeError).not.toContain(WRONG);
    const unauthorized = h.fake.state().requests.unauthorized;
    expect(unauthorized).toBeGreaterThan(0);

    // Replaced with the right one: the next run succeeds, same process.
    await h.ingest.updateConfiguracion({ sialUsuario: SIAL_USER, sialPassword: ROTATED, requestedBy: 'ana' });
    const ok = await h.succeeded(await h.runPeriodic('aspirantes'));
    expect(ok.detalles).toMatchObject({ created: 6 });
    expect(h.fake.state().requests.unauthorized).toBe(unauthorized);
  }, 60_000);

  it('is write-only: not in the answer, not in clear in the table, not in any published message or Log', async () => {
    const { configuracion } = await h.ingest.getConfiguracion({});
    expect(configuracion).toMatchObject({ sialUsuario: SIAL_USER, sialCredencialesOrigen: 'personal' });
    for (const secret of [ROTATED, WRONG]) expect(json(configuracion)).not.toContain(secret);

    const { rows } = await h.service.knex.raw<{ rows: Record<string, unknown>[] }>(
      `select * from ingest.configuracion`,
    );
    const row = rows[0]!;
    expect(row.sial_usuario).toBe(SIAL_USER);
    expect(String(row.sial_password_sealed)).toMatch(/^v2:k1:/);
    const box = createSecretBox({ keys: { k1: KEY_1 }, currentKeyId: 'k1' });
    expect(box.open(String(row.sial_password_sealed), SIAL_PASSWORD_AAD)).toBe(ROTATED);
    // Bound to its field: the sealed value does not open as another one.
    expect(() => box.open(String(row.sial_password_sealed), 'ingest.configuracion:1:otro')).toThrow();
    for (const secret of [ROTATED, WRONG]) expect(JSON.stringify(rows)).not.toContain(secret);

    const bytes = await published();
    for (const secret of [ROTATED, WRONG]) {
      expect(bytes).not.toContain(secret);
      // Nor as the Authorization header it travels in.
      expect(bytes).not.toContain(Buffer.from(`${SIAL_USER}:${secret}`).toString('base64'));
    }

    // Each change is a Log row saying the credentials were replaced, by whom; never the value.
    const logs = await configLogs();
    const replaced = logs.filter((l) => l.message.includes('credenciales de SIAL reemplazadas'));
    expect(replaced).toHaveLength(2);
    expect(replaced[0]!.usuario).toBe('ana');
    expect(replaced[0]!.message).toBe(
      'ana cambió la configuración de ingesta: credenciales de SIAL reemplazadas.',
    );
    expect(replaced[0]!.detalles?.cambios).toEqual(['credenciales de SIAL reemplazadas']);
  });

  it('another replica sees a replaced password within its refresh', async () => {
    const box = createSecretBox({ keys: { k1: KEY_1 }, currentKeyId: 'k1' });
    const replica = createSialCredentialStore({ knex: h.service.knex, box, defaults: DEPLOYMENT });
    await replica.load();
    replica.start(1_000);
    try {
      expect(replica.current()).toEqual({ user: SIAL_USER, password: ROTATED, origin: 'personal' });
      await h.ingest.updateConfiguracion({
        sialUsuario: 'otro',
        sialPassword: 'Otra-0123',
        requestedBy: 'beto',
      });
      await waitFor(async () => (replica.current().user === 'otro' ? true : undefined), {
        what: 'the other replica reloading the credentials',
        timeoutMs: 5_000,
      });
      expect(replica.current().password).toBe('Otra-0123');
    } finally {
      replica.stop();
      await h.ingest.updateConfiguracion({
        sialUsuario: SIAL_USER,
        sialPassword: ROTATED,
        requestedBy: 'ana',
      });
    }
  });

  it('an import from pylucy changes no credential, and a window change logs what changed', async () => {
    const inicio = new Date(Date.now() - 7200_000);
    const res = await h.ingest.importConfiguracion({
      ventanas: [{ tipo: TipoIngesta.INGRESANTES, diaInicio: timestampFromDate(inicio) }],
      dryRun: true,
      requestedBy: 'adopción de pylucy (test)',
    });
    expect(res.configuracion).toMatchObject({ sialUsuario: SIAL_USER, sialCredencialesOrigen: 'personal' });
    expect(res.results.map((r) => r.campo).join(' ')).not.toMatch(/sial|password/i);

    await h.ingest.updateConfiguracion({
      configuracion: {
        ventanas: [{ tipo: TipoIngesta.INGRESANTES, diaInicio: timestampFromDate(inicio) }],
        sialConcurrencia: 8,
      },
      requestedBy: 'beto',
    });
    const last = (await configLogs()).at(-1)!;
    expect(last.message).toContain(
      'beto cambió la configuración de ingesta: ventana de ingresantes (inicio)',
    );
    expect(last.message).toContain('concurrencia con SIAL 16 → 8');
    expect(last.message).not.toContain('credenciales');
    expect((await h.ingest.getConfiguracion({})).configuracion?.sialCredencialesOrigen).toBe('personal');
  });

  it('a key rotation re-seals the stored password; a password no key opens falls back to the deployment’s, said once', async () => {
    const knex = h.service.knex;
    const k2 = randomBytes(32);
    const old = createSecretBox({ keys: { k1: KEY_1 }, currentKeyId: 'k1' });
    const rotated = createSecretBox({ keys: { k1: KEY_1, k2 }, currentKeyId: 'k2' });
    const onlyNew = createSecretBox({ keys: { k2 }, currentKeyId: 'k2' });
    const errors: unknown[] = [];

    // Without the old key the stored password does not open: the deployment's pair, and the error once.
    const lost = createSialCredentialStore({
      knex,
      box: onlyNew,
      defaults: DEPLOYMENT,
      onError: (e) => errors.push(e),
    });
    await lost.load();
    await lost.load();
    expect(lost.current()).toEqual({ ...DEPLOYMENT, origin: 'despliegue' });
    expect(lost.view()).toEqual({ usuario: 'usuario', passwordConfigurada: true, origen: 'despliegue' });
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).not.toContain(ROTATED);
    // Without any key (LUCY_SECRET_KEYS unset) likewise.
    const none = createSialCredentialStore({
      knex,
      box: undefined,
      defaults: DEPLOYMENT,
      onError: (e) => errors.push(e),
    });
    await none.load();
    expect(none.current().origin).toBe('despliegue');
    expect(String(errors[1])).toContain('LUCY_SECRET_KEYS is not set');

    // Re-sealed with the new key while both are in the keyring: then the new key alone opens it.
    expect(await resealSialCredentials(knex, rotated)).toBe(true);
    expect(await resealSialCredentials(knex, rotated)).toBe(false);
    const sealed = (await knex.withSchema('ingest').table('configuracion').first()) as {
      sial_password_sealed: string;
    };
    expect(sealed.sial_password_sealed).toMatch(/^v2:k2:/);
    const after = createSialCredentialStore({ knex, box: onlyNew, defaults: DEPLOYMENT });
    await after.load();
    expect(after.current()).toEqual({ user: SIAL_USER, password: ROTATED, origin: 'personal' });
    const stale = createSialCredentialStore({
      knex,
      box: old,
      defaults: DEPLOYMENT,
      onError: () => undefined,
    });
    await stale.load();
    expect(stale.current().origin).toBe('despliegue');

    // Stored again through the service, sealed with its own key (k1).
    await h.ingest.updateConfiguracion({ sialUsuario: SIAL_USER, sialPassword: ROTATED, requestedBy: 'ana' });
    const again = (await knex.withSchema('ingest').table('configuracion').first()) as {
      sial_password_sealed: string;
    };
    expect(again.sial_password_sealed).toMatch(/^v2:k1:/);
  });

  it('staff can forget the stored pair: the deployment’s is used again from the next request, said in a Log', async () => {
    // Both at once: refused, naming the field, nothing changed.
    const both = await rejection(
      h.ingest.updateConfiguracion({
        sialUsuario: SIAL_USER,
        sialPassword: ROTATED,
        restablecerSialCredenciales: true,
        requestedBy: 'ana',
      }),
    );
    expect(both.code).toBe(Code.InvalidArgument);
    expect(both.message).toContain('restablecer_sial_credenciales');
    expect((await h.ingest.getConfiguracion({})).configuracion?.sialCredencialesOrigen).toBe('personal');

    // SIAL accepts the deployment's pair again; the stored one would now be refused.
    h.fake.setCredentials(DEPLOYMENT);
    const r = await h.ingest.updateConfiguracion({ restablecerSialCredenciales: true, requestedBy: 'ana' });
    expect(r.configuracion).toMatchObject({
      sialUsuario: DEPLOYMENT.user,
      sialPasswordConfigurada: true,
      sialCredencialesOrigen: 'despliegue',
      actualizadoPor: 'ana',
    });
    const row = (await h.service.knex.withSchema('ingest').table('configuracion').first()) as Record<
      string,
      unknown
    >;
    expect(row).toMatchObject({ sial_usuario: null, sial_password_sealed: null });
    // The windows were left as they were, and the next run signs in with the deployment's pair.
    const unauthorized = h.fake.state().requests.unauthorized;
    await h.succeeded(await h.runPeriodic('aspirantes'));
    expect(h.fake.state().requests.unauthorized).toBe(unauthorized);
    const logs = await configLogs();
    expect(logs.at(-1)?.message).toContain('se vuelven a usar las del despliegue');

    // Again, with nothing stored: the Log does not announce a change that did not happen.
    await h.ingest.updateConfiguracion({ restablecerSialCredenciales: true, requestedBy: 'ana' });
    const again = await configLogs();
    expect(again).toHaveLength(logs.length + 1);
    expect(again.at(-1)?.message).toContain('ya se usaban las del despliegue');
    expect(again.at(-1)?.message).not.toContain('se vuelven a usar');
  }, 60_000);
});

describe('SIAL credentials without LUCY_SECRET_KEYS', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      { sizes: { preinscriptos: 2, aspirantes: 4, ingresantes: 2 } },
      'ingest_sial_nokeys',
    );
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('refuses to store a password, naming sial_password and the missing key; everything else works', async () => {
    const inicio = new Date(Date.now() - 3600_000);
    const err = await rejection(
      h.ingest.updateConfiguracion({
        configuracion: { ventanas: [{ tipo: TipoIngesta.ASPIRANTES, diaInicio: timestampFromDate(inicio) }] },
        sialUsuario: SIAL_USER,
        sialPassword: WRONG,
        requestedBy: 'ana',
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain('sial_password');
    expect(err.rawMessage).toContain('LUCY_SECRET_KEYS');
    expect(err.rawMessage).not.toContain(WRONG);
    // Nothing of that request was stored, the window included.
    const { configuracion } = await h.ingest.getConfiguracion({});
    expect(configuracion).toMatchObject({ sialUsuario: 'usuario', sialCredencialesOrigen: 'despliegue' });
    expect(configuracion!.ventanas.find((v) => v.tipo === TipoIngesta.ASPIRANTES)!.diaInicio).toBeUndefined();

    // The rest: a window, and an ingestion with the deployment's pair.
    await h.openWindow(TipoIngesta.ASPIRANTES);
    const ok = await h.succeeded(await h.runPeriodic('aspirantes'));
    expect(ok.detalles).toMatchObject({ created: 4 });
  }, 60_000);
});
