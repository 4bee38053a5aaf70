/**
 * Issue 13, against the real NATS and Postgres: IdentityService.PreCheck answers per alumno what Enqueue then does
 * (same rule, same data) and queues nothing; the settings staff own (batch limit, UPN prefix, Moodle token, Graph
 * client secret) are stored, the secrets sealed and never returned, and the service reads each of them without a
 * restart; CheckDeletion answers with the deletion's own guard.
 */
import { randomBytes } from 'node:crypto';
import { createSecretBox } from '@lucy/platform';
import { readStream } from '@lucy/testkit';
import type { Alumno } from '@lucy/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpn } from '../src/domain/account-names.js';
import { preCheckAlumno } from '../src/domain/pre-check.js';
import { createIdentitySettings, resealSettings } from '../src/settings.js';
import { DOMAIN, startHarness, type Harness } from './harness.js';
import { rejectionOf } from './support.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const RESETEAR = 'alumnos.tasks.resetear_password_y_enviar_email';

describe('PreCheck and the identity settings', () => {
  let h: Harness;
  let conEmail: Alumno[];
  let sinEmail: Alumno;
  const commands = async () =>
    (await readStream(h.t.handles, h.t.names.streams.cmd, h.t.names.full('lucy.cmd.identity.>'))).length;

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_config', aspirantes: 20 });
    // One alumno without e-mail, whatever the fake SIAL made (it leaves about 3% without one).
    const blank = h.alumnos.find((a) => a.emailPersonal === '') ?? h.alumnos.at(-1)!;
    await h.ingest.knex.raw(`update ingest.alumno set email_personal = null where id = ?`, [blank.id]);
    sinEmail = blank;
    conEmail = h.alumnos.filter((a) => a.emailPersonal !== '' && a.id !== blank.id);
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('the domain rule: each outcome of the pre-check', () => {
    const is = (got: { estado: string; motivo: string }, estado: string, motivo: string) => {
      expect(got.estado).toBe(estado);
      expect(got.motivo).toContain(motivo);
    };
    const base = {
      alumnoId: 'x',
      alumno: { estado: 'aspirante', emailPersonal: 'a@b.c' },
      cuenta: undefined,
      flags: { activarTeams: true, activarMoodle: true, enviarEmail: true },
      enviarEmail: false,
      forzar: false,
    };
    expect(preCheckAlumno({ ...base, action: 'activar' }).estado).toBe('programada');
    expect(preCheckAlumno({ ...base, action: 'activar', alumno: undefined }).estado).toBe('rechazado');
    is(
      preCheckAlumno({
        ...base,
        action: 'crear',
        alumno: { estado: 'preinscripto', emailPersonal: 'a@b.c' },
      }),
      'rechazado',
      'preinscriptos',
    );
    is(
      preCheckAlumno({ ...base, action: 'activar', alumno: { estado: 'aspirante', emailPersonal: ' ' } }),
      'rechazado',
      'Sin e-mail',
    );
    // crear without e-mail does not need one; resetear always sends it.
    expect(
      preCheckAlumno({ ...base, action: 'crear', alumno: { estado: 'aspirante', emailPersonal: '' } }).estado,
    ).toBe('programada');
    expect(
      preCheckAlumno({ ...base, action: 'resetear', alumno: { estado: 'aspirante', emailPersonal: '' } })
        .estado,
    ).toBe('rechazado');
    const activa = { estado: 'activa', upn: 'test-a1@x.y' };
    is(
      preCheckAlumno({ ...base, action: 'activar', cuenta: activa }),
      'omitido',
      'Ya activado (test-a1@x.y)',
    );
    expect(preCheckAlumno({ ...base, action: 'activar', cuenta: activa, forzar: true }).estado).toBe(
      'programada',
    );
    expect(
      preCheckAlumno({ ...base, action: 'resetear', cuenta: { estado: 'eliminada', upn: 'u@x.y' } }).estado,
    ).toBe('rechazado');
    is(
      preCheckAlumno({
        ...base,
        action: 'activar',
        flags: { activarTeams: false, activarMoodle: false, enviarEmail: true },
      }),
      'omitido',
      'activar_teams',
    );
    // The flags' enviar_email decides whether activar needs an e-mail.
    expect(
      preCheckAlumno({
        ...base,
        action: 'activar',
        alumno: { estado: 'aspirante', emailPersonal: '' },
        flags: { activarTeams: true, activarMoodle: false, enviarEmail: false },
      }).estado,
    ).toBe('programada');
  });

  it('PreCheck queues nothing and answers per alumno exactly what Enqueue then does', async () => {
    const [activo, nuevo] = conEmail.splice(0, 2) as [Alumno, Alumno];
    const first = await h.identity.enqueue({ alumnoIds: [activo.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(first.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    const ids = [
      activo.id,
      sinEmail.id,
      nuevo.id,
      nuevo.id,
      'no-es-un-id',
      '00000000-0000-4000-8000-000000000000',
    ];
    const before = await commands();
    const pre = await h.identity.preCheck({ alumnoIds: ids, taskName: ACTIVAR });
    expect(await commands()).toBe(before);
    expect(pre.resultados.map((r) => r.estado)).toEqual([
      'omitido',
      'rechazado',
      'programada',
      'omitido',
      'rechazado',
      'rechazado',
    ]);
    expect(pre.resultados[0]!.motivo).toContain('Ya activado');
    expect(pre.resultados[1]!.motivo).toContain('Sin e-mail');
    expect(pre.resultados.every((r) => r.taskId === '')).toBe(true);
    expect(pre.loteMaximo).toBe(50);
    const done = await h.identity.enqueue({ alumnoIds: ids, taskName: ACTIVAR, requestedBy: 'ana' });
    expect(done.resultados.map((r) => [r.estado, r.motivo])).toEqual(
      pre.resultados.map((r) => [r.estado, r.motivo]),
    );
    await h.waitAll(done.taskIds.filter(Boolean), 60_000);
    // resetear of the one without e-mail: the same answer from both.
    const r1 = await h.identity.preCheck({ alumnoIds: [sinEmail.id], taskName: RESETEAR });
    expect(r1.resultados[0]).toMatchObject({ estado: 'rechazado' });
    const bad = await rejectionOf(h.identity.preCheck({ alumnoIds: [nuevo.id], taskName: 'otra' }));
    expect(bad.message).toContain('Tarea desconocida');
  }, 180_000);

  it('the batch limit and the UPN prefix staff set are the ones Enqueue and the activation use', async () => {
    const bad = await rejectionOf(
      h.identity.updateConfiguracionIdentidad({ loteMaximo: 0, prefijoUpn: 'á b', requestedBy: 'ana' }),
    );
    expect(bad.message).toContain('lote máximo');
    expect(bad.message).toContain('prefijo');
    const got = await h.identity.updateConfiguracionIdentidad({
      loteMaximo: 2,
      prefijoUpn: 'zz-',
      requestedBy: 'ana',
    });
    expect(got.configuracion).toMatchObject({ loteMaximo: 2, prefijoUpn: 'zz-', actualizadoPor: 'ana' });
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion?.loteMaximo).toBe(2);
    const three = conEmail.splice(0, 3);
    const refused = await rejectionOf(
      h.identity.enqueue({ alumnoIds: three.map((a) => a.id), taskName: ACTIVAR, requestedBy: 'ana' }),
    );
    expect(refused.message).toContain('el máximo por solicitud es 2');
    expect((await h.identity.preCheck({ alumnoIds: [three[0]!.id], taskName: ACTIVAR })).loteMaximo).toBe(2);
    const q = await h.identity.enqueue({ alumnoIds: [three[0]!.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    const upn = buildUpn({ prefix: 'zz-', dni: three[0]!.dni, domain: DOMAIN });
    expect(h.graph.user(upn)).toBeDefined();
    expect((await h.identity.getCuenta({ alumnoId: three[0]!.id })).cuenta?.upn).toBe(upn);
    await h.identity.updateConfiguracionIdentidad({
      loteMaximo: 50,
      prefijoUpn: 'test-a',
      requestedBy: 'ana',
    });
  }, 180_000);

  it('the Moodle token is write-only, sealed at rest, and the one the Moodle client sends', async () => {
    const secret = 'token-equivocado-0123456789';
    const r = await h.identity.updateConfiguracionIdentidad({ moodleToken: secret, requestedBy: 'ana' });
    expect(r.configuracion?.moodleTokenConfigurado).toBe(true);
    expect(
      JSON.stringify(r.configuracion, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    ).not.toContain(secret);
    const row = await h.service!.knex.raw<{ rows: Record<string, unknown>[] }>(
      `select * from identity.configuracion`,
    );
    expect(JSON.stringify(row.rows)).not.toContain(secret);
    // A wrong token stored: the next activation's Moodle step is refused by Moodle.
    const [a, b] = conEmail.splice(0, 2) as [Alumno, Alumno];
    const q = await h.identity.enqueue({ alumnoIds: [a.id], taskName: ACTIVAR, requestedBy: 'ana' });
    const o = (await h.waitAll(q.taskIds, 60_000))[0]!;
    expect(o.kind).toBe('failed');
    if (o.kind === 'failed') expect(o.event.mensajeError).toContain('token');
    // The right one: the next activation works, and nothing logged or published carries either token.
    await h.identity.updateConfiguracionIdentidad({ moodleToken: h.moodle.token, requestedBy: 'ana' });
    const q2 = await h.identity.enqueue({ alumnoIds: [b.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q2.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    const seen = Buffer.concat(h.seen.map((d) => Buffer.from(d))).toString('latin1');
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(h.moodle.token);
  }, 180_000);

  it('a key rotation re-seals the stored token; a token no key opens falls back to the deployment’s, said', async () => {
    const knex = h.service!.knex;
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const old = createSecretBox({ keys: { a: k1 }, currentKeyId: 'a' });
    const rotated = createSecretBox({ keys: { a: k1, b: k2 }, currentKeyId: 'b' });
    const onlyNew = createSecretBox({ keys: { b: k2 }, currentKeyId: 'b' });
    const defaults = {
      batchLimit: 50,
      upnPrefix: 'test-a',
      upnDomain: DOMAIN,
      moodleToken: 'del-despliegue',
      graphClientSecret: 'del-despliegue-graph',
    };
    const errors: unknown[] = [];
    const s1 = createIdentitySettings({ knex, box: old, defaults, onError: (e) => errors.push(e) });
    expect(await s1.update({ moodleToken: 'guardado-1', requestedBy: 'ana' }, new Date())).toEqual([]);
    // Without the old key the stored token does not open: the deployment's is used and the error reported.
    const lost = createIdentitySettings({ knex, box: onlyNew, defaults, onError: (e) => errors.push(e) });
    await lost.load();
    expect(lost.moodleToken).toBe('del-despliegue');
    expect(errors).toHaveLength(1);
    // Said once per stored value: the periodic reloads do not repeat it.
    await lost.load();
    await lost.load();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).not.toContain('guardado-1');
    // Re-sealed with the new key while both are in the keyring: then the new key alone opens it.
    expect(await resealSettings(knex, rotated)).toBe(true);
    expect(await resealSettings(knex, rotated)).toBe(false);
    const after = createIdentitySettings({ knex, box: onlyNew, defaults });
    await after.load();
    expect(after.moodleToken).toBe('guardado-1');
    // Stored again through the service, sealed with its own key.
    await h.identity.updateConfiguracionIdentidad({ moodleToken: h.moodle.token, requestedBy: 'ana' });
  });

  it('the Graph client secret is write-only, sealed at rest, and the one the next token request sends', async () => {
    const rotated = 'secreto-rotado-Kp4-0123456789';
    const wrong = 'secreto-equivocado-Zx9-0123456789';
    const bad = await rejectionOf(
      h.identity.updateConfiguracionIdentidad({ graphClientSecret: 'con espacio', requestedBy: 'ana' }),
    );
    expect(bad.message).toContain('graph_client_secret');
    expect(bad.message).toContain('secreto de cliente de Graph');
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion).toMatchObject({
      graphClientSecretConfigurado: true,
      graphClientSecretOrigen: 'despliegue',
      graphUsaCertificado: false,
    });
    // Rotated in Entra, and a wrong one stored here: the next activation asks for its token with the wrong one.
    h.graph.setClientSecret(rotated);
    await h.identity.updateConfiguracionIdentidad({ graphClientSecret: wrong, requestedBy: 'ana' });
    const [a, b] = conEmail.splice(0, 2) as [Alumno, Alumno];
    const q = await h.identity.enqueue({ alumnoIds: [a.id], taskName: ACTIVAR, requestedBy: 'ana' });
    const o = (await h.waitAll(q.taskIds, 60_000))[0]!;
    expect(o.kind).toBe('failed');
    if (o.kind === 'failed') {
      expect(o.event.mensajeError).toContain('AADSTS7000215');
      expect(o.event.mensajeError).toContain('Configuración');
    }
    // The rotated one: used from the next activation on, no restart.
    const r = await h.identity.updateConfiguracionIdentidad({
      graphClientSecret: rotated,
      requestedBy: 'ana',
    });
    expect(r.configuracion).toMatchObject({
      graphClientSecretConfigurado: true,
      graphClientSecretOrigen: 'personal',
    });
    const q2 = await h.identity.enqueue({ alumnoIds: [b.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q2.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    expect(h.graph.user(buildUpn({ prefix: 'test-a', dni: b.dni, domain: DOMAIN }))).toBeDefined();
    // Neither secret in the answer, the row, or anything published (Logs, events).
    const row = await h.service!.knex.raw<{ rows: Record<string, unknown>[] }>(
      `select * from identity.configuracion`,
    );
    const seen = Buffer.concat(h.seen.map((d) => Buffer.from(d))).toString('latin1');
    for (const text of [
      JSON.stringify(r.configuracion, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
      JSON.stringify(row.rows),
      seen,
    ]) {
      expect(text).not.toContain(rotated);
      expect(text).not.toContain(wrong);
    }
  }, 180_000);

  it('staff can forget a stored Graph secret or Moodle token: the deployment’s is used again, no restart', async () => {
    // Both asked at once for one secret: refused, naming the field, nothing changed.
    const both = await rejectionOf(
      h.identity.updateConfiguracionIdentidad({
        moodleToken: 'otro-token-0123456789',
        restablecerMoodleToken: true,
        requestedBy: 'ana',
      }),
    );
    expect(both.message).toContain('restablecer_moodle_token');
    expect(both.message).toContain('no las dos cosas');
    // Stored ones in use (the previous tests left a Graph secret; a Moodle token is stored here).
    await h.identity.updateConfiguracionIdentidad({
      moodleToken: 'token-guardado-0123456789',
      requestedBy: 'ana',
    });
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion).toMatchObject({
      moodleTokenOrigen: 'personal',
      graphClientSecretOrigen: 'personal',
    });
    // Entra's secret is the deployment's again: the stored one would now be refused.
    h.graph.setClientSecret(h.env.GRAPH_CLIENT_SECRET!);
    const tokensBefore = h.graph.state().requests;
    const r = await h.identity.updateConfiguracionIdentidad({
      restablecerMoodleToken: true,
      restablecerGraphClientSecret: true,
      requestedBy: 'ana',
    });
    expect(r.configuracion).toMatchObject({
      moodleTokenConfigurado: true,
      moodleTokenOrigen: 'despliegue',
      graphClientSecretConfigurado: true,
      graphClientSecretOrigen: 'despliegue',
      actualizadoPor: 'ana',
    });
    const row = await h.service!.knex.raw<{ rows: Record<string, unknown>[] }>(
      `select moodle_token_sealed, graph_client_secret_sealed from identity.configuracion`,
    );
    expect(row.rows[0]).toEqual({ moodle_token_sealed: null, graph_client_secret_sealed: null });
    // The next activation signs in to Graph and Moodle with the deployment's values.
    const [a] = conEmail.splice(0, 1) as [Alumno];
    const q = await h.identity.enqueue({ alumnoIds: [a.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    // A new token was asked for (the credential changed), with a secret Entra accepts: the deployment's.
    const tokensAfter = h.graph.state().requests;
    expect(tokensAfter.token).toBeGreaterThan(tokensBefore.token);
    expect(tokensAfter.tokenErrors).toBe(tokensBefore.tokenErrors);
    // The change is in the Logs, saying what happened.
    const seen = Buffer.concat(h.seen.map((d) => Buffer.from(d))).toString('utf8');
    expect(seen).toContain('token de Moodle: se vuelve a usar el del despliegue');
    expect(seen).toContain('secreto de cliente de Graph: se vuelve a usar el del despliegue');
  }, 180_000);

  it('CheckDeletion answers with the guard the deletion applies, changing nothing', async () => {
    const activa = (await h.identity.listCuentas({ page: { pageSize: 500 } })).cuentas.find(
      (c) => c.estado === 'activa' && c.upn.startsWith('test-a'),
    )!;
    expect(await h.identity.checkDeletion({ alumnoId: activa.alumnoId })).toMatchObject({
      permitida: true,
      motivo: '',
      upn: activa.upn,
    });
    // No account here: the deletion would remove the one SIAL names, outside the safe prefix.
    const [sinCuenta, nada] = conEmail.splice(0, 2) as [Alumno, Alumno];
    await h.ingest.knex.raw(`update ingest.alumno set email_institucional = ? where id = ?`, [
      `${sinCuenta.dni}@${DOMAIN}`,
      sinCuenta.id,
    ]);
    await h.ingest.knex.raw(`update ingest.alumno set email_institucional = null where id = ?`, [nada.id]);
    const refused = await h.identity.checkDeletion({ alumnoId: sinCuenta.id });
    expect(refused.permitida).toBe(false);
    expect(refused.upn).toBe(`${sinCuenta.dni}@${DOMAIN}`);
    expect(refused.motivo).toContain('solo se eliminan cuentas cuyo UPN empieza con «test-»');
    expect(await h.identity.checkDeletion({ alumnoId: nada.id })).toMatchObject({ permitida: true, upn: '' });
    const bad = await rejectionOf(h.identity.checkDeletion({ alumnoId: 'no-es-un-id' }));
    expect(bad.message).toContain('alumno_id');
    const cuenta = (await h.identity.getCuenta({ alumnoId: activa.alumnoId })).cuenta;
    expect(cuenta?.estado).toBe('activa');
  }, 60_000);

  it('a Moodle token set when the deployment has none is used from the next activation on, without a restart', async () => {
    await h.service!.knex.raw(`update identity.configuracion set moodle_token_sealed = null`);
    await h.restart({ MOODLE_TOKEN: undefined });
    expect((await h.identity.getConfiguracionIdentidad({})).configuracion).toMatchObject({
      moodleTokenConfigurado: false,
      moodleTokenOrigen: '',
    });
    const [a, b] = conEmail.splice(0, 2) as [Alumno, Alumno];
    const moodleUser = (x: Alumno) =>
      h.moodle
        .state()
        .users.find((u) => u.username === buildUpn({ prefix: 'test-a', dni: x.dni, domain: DOMAIN }));
    const q = await h.identity.enqueue({ alumnoIds: [a.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    expect(moodleUser(a)).toBeUndefined();
    const r = await h.identity.updateConfiguracionIdentidad({
      moodleToken: h.moodle.token,
      requestedBy: 'ana',
    });
    expect(r.configuracion).toMatchObject({ moodleTokenConfigurado: true, moodleTokenOrigen: 'personal' });
    const q2 = await h.identity.enqueue({ alumnoIds: [b.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect((await h.waitAll(q2.taskIds, 60_000))[0]!.kind).toBe('succeeded');
    expect(moodleUser(b)).toBeDefined();
  }, 180_000);
});
