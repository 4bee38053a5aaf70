/**
 * identity-teams end to end against the Graph and Moodle fakes, a real ingest-sial, NATS and Postgres: the four
 * tasks, their Spanish errors, exactly-once on redelivery, the deletion guards, the vault and IdentityService.
 */
import { STUDENT_SKU } from '@lucy/fake-graph';
import { H } from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  EliminarCuentaExternaCommandSchema,
  LogEventSchema,
  TaskProgressSchema,
  TipoEmail,
  type Alumno,
} from '@lucy/proto';
import { readStream, TEST_TOKEN, waitFor } from '@lucy/testkit';
import { fromBinary } from '@bufbuild/protobuf';
import { createRpcClient } from '@lucy/platform';
import { IdentityService, TipoIngesta } from '@lucy/proto';
import type { ConnectError } from '@connectrpc/connect';
import { Code } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpn } from '../src/domain/index.js';
import { ADMIN_TOKEN, DOMAIN, startHarness, type Harness } from './harness.js';
import { rejectionOf } from './support.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const CREAR = 'alumnos.tasks.crear_usuario_teams_async';
const RESETEAR = 'alumnos.tasks.resetear_password_y_enviar_email';
const admin = { headers: { 'lucy-admin-token': ADMIN_TOKEN } };

describe('identity-teams against the fakes', () => {
  let h: Harness;
  let pool: Alumno[];
  const take = (): Alumno => {
    const a = pool.shift();
    if (!a) throw new Error('no alumnos left');
    return a;
  };
  const upnOf = (a: Alumno) => buildUpn({ prefix: 'test-a', dni: a.dni, domain: DOMAIN });
  const enqueue = async (
    taskName: string,
    ids: string[],
    extra: { forzar?: boolean; enviarEmail?: boolean } = {},
  ) => h.identity.enqueue({ alumnoIds: ids, taskName, requestedBy: 'ana', ...extra });
  const runOne = async (
    taskName: string,
    a: Alumno,
    extra: { forzar?: boolean; enviarEmail?: boolean } = {},
  ) => {
    const res = await enqueue(taskName, [a.id], extra);
    expect(res.resultados[0]?.estado, res.resultados[0]?.motivo).toBe('programada');
    const outcome = await h.waitOutcome(res.taskIds[0]!);
    if (outcome.kind === 'failed') console.error(`${taskName}: ${outcome.event.mensajeError}`);
    return { taskId: res.taskIds[0]!, outcome };
  };

  beforeAll(async () => {
    h = await startHarness({
      label: 'identity_flows',
      aspirantes: 40,
      env: { IDENTITY_MASS_DELETE_MAX: '4', IDENTITY_BATCH_LIMIT: '5' },
    });
    pool = h.alumnos.filter((a) => a.emailPersonal !== '');
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('logs each step of an activation in its Tarea, in order, with progress', async () => {
    const a = take();
    const { taskId, outcome } = await runOne(ACTIVAR, a);
    expect(outcome.kind).toBe('succeeded');
    const upn = upnOf(a);
    const logs = (await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('log', 'info')))
      .filter((m) => m.header(H.taskId) === taskId)
      .map((m) => fromBinary(LogEventSchema, m.data))
      .sort((x, y) => x.id.localeCompare(y.id));
    expect(logs.map((l) => l.message)).toEqual([
      `Paso 1/4: Usuario de Microsoft 365 listo (${upn}).`,
      `Paso 2/4: Licencia asignada (${upn}).`,
      `Paso 3/4: Usuario de Moodle listo (${upn}).`,
      `Paso 4/4: E-mail de credenciales pedido al notificador (${upn}).`,
    ]);
    expect(logs.every((l) => l.alumnoId === a.id && l.module === 'identity_teams')).toBe(true);
    const progress = (await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('task', 'progress')))
      .filter((m) => m.header(H.taskId) === taskId)
      .map((m) => fromBinary(TaskProgressSchema, m.data))
      .filter((p) => !p.heartbeat);
    expect(progress.map((p) => [Number(p.done), Number(p.total)])).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
  });

  it('activates an alumno: Teams account, licence, Moodle user and one credentials e-mail by reference', async () => {
    const a = take();
    const { taskId, outcome } = await runOne(ACTIVAR, a);
    expect(outcome.kind).toBe('succeeded');
    const upn = upnOf(a);
    const user = h.graph.user(upn)!;
    expect(user).toMatchObject({ employeeId: a.dni, usageLocation: 'AR', accountEnabled: true });
    expect(user.displayName).toBe(`${a.apellido}, ${a.nombre}`);
    expect(user.passwordProfile?.forceChangePasswordNextSignIn).toBe(true);
    expect(user.assignedLicenses.map((l) => l.skuId)).toEqual([STUDENT_SKU.skuId]);
    const moodleUser = h.moodle.state().users.find((u) => u.username === upn);
    expect(moodleUser).toMatchObject({ idnumber: a.dni, auth: 'oidc' });

    const emails = (await h.emails()).filter((e) => e.command.alumnoId === a.id);
    expect(emails).toHaveLength(1);
    const [email] = emails;
    expect(email!.command).toMatchObject({ tipo: TipoEmail.CREDENCIALES, upn });
    expect(email!.command.credentialRef).toMatch(/^cred_[0-9a-f-]{36}$/);
    expect(email!.parent).toBe(taskId);
    expect(email!.traceparent?.split('-')[1]).toBe(
      (await h.emails()).length > 0 ? email!.traceparent?.split('-')[1] : '',
    );

    // The notifier resolves the reference for that e-mail task, and gets the password Graph holds.
    const resolved = await h.identity.resolveCredential({
      credentialRef: email!.command.credentialRef,
      alumnoId: a.id,
      taskId: email!.taskId,
    });
    expect(resolved).toMatchObject({ upn, password: user.passwordProfile.password });
    const wrongTask = await rejectionOf(
      h.identity.resolveCredential({ credentialRef: email!.command.credentialRef, alumnoId: a.id, taskId }),
    );
    expect((wrongTask as ConnectError).code).toBe(Code.PermissionDenied);

    const { cuenta } = await h.identity.getCuenta({ alumnoId: a.id });
    expect(cuenta).toMatchObject({
      upn,
      graphId: user.id,
      estado: 'activa',
      licenciaAsignada: true,
      licenciaSku: 'STANDARDWOFFPACK_STUDENT',
      emailSolicitado: true,
      tienePasswordTemporal: true,
    });
    if (outcome.kind !== 'succeeded') throw new Error('unreachable');
    expect(JSON.stringify(outcome.event.detalles)).not.toContain(user.passwordProfile.password);
    expect(JSON.stringify(outcome.event.detalles)).toContain('RevealPassword');
  });

  it('runs a redelivered task once: no second account, no second e-mail, no step redone', async () => {
    const a = take();
    const { taskId, outcome } = await runOne(ACTIVAR, a);
    expect(outcome.kind).toBe('succeeded');
    const writesBefore = h.graph.state().writes.total;
    const usersBefore = h.graph.users().length;
    h.outcomes.delete(taskId);
    // The same task delivered again (another message id, as a republish past the dedup window would be).
    await h.publisher.publish(
      'lucy.cmd.identity.activar_servicios',
      ActivarServiciosCommandSchema,
      { alumnoId: a.id },
      { taskType: ACTIVAR, requestedBy: 'ana', trigger: 'admin', taskId, msgId: `${taskId}:again` },
    );
    // Reported succeeded again (by the runner's record or by our state machine finding every step done).
    expect((await h.waitOutcome(taskId)).kind).toBe('succeeded');
    expect(h.graph.users().length).toBe(usersBefore);
    expect(h.graph.state().writes.total).toBe(writesBefore);
    expect((await h.emails()).filter((e) => e.command.alumnoId === a.id)).toHaveLength(1);
  });

  it('skips a second activation of an activated alumno with the reason, and redoes nothing when forced', async () => {
    const a = take();
    expect((await runOne(ACTIVAR, a)).outcome.kind).toBe('succeeded');
    const pre = await enqueue(ACTIVAR, [a.id]);
    expect(pre.resultados[0]).toMatchObject({ estado: 'omitido', taskId: '' });
    expect(pre.resultados[0]!.motivo).toContain('Ya activado');
    // A command that bypasses the pre-check is skipped by the worker.
    const { taskId } = await h.publisher.publish(
      'lucy.cmd.identity.activar_servicios',
      ActivarServiciosCommandSchema,
      { alumnoId: a.id },
      { taskType: ACTIVAR, requestedBy: 'ana', trigger: 'admin' },
    );
    const skipped = await h.waitOutcome(taskId);
    expect(skipped.kind).toBe('skipped');
    if (skipped.kind === 'skipped') expect(skipped.event.reason).toContain('ya tiene la cuenta activa');
    const users = h.graph.users().length;
    const forced = await runOne(ACTIVAR, a, { forzar: true });
    expect(forced.outcome.kind).toBe('succeeded');
    expect(h.graph.users().length).toBe(users);
  });

  it('fails with "Alumno … no encontrado" when the alumno was deleted before the task ran', async () => {
    const ghost = '0190f0f0-0000-7000-8000-000000000001';
    const { taskId } = await h.publisher.publish(
      'lucy.cmd.identity.activar_servicios',
      ActivarServiciosCommandSchema,
      { alumnoId: ghost },
      { taskType: ACTIVAR, requestedBy: 'ana', trigger: 'admin' },
    );
    const o = await h.waitOutcome(taskId);
    expect(o.kind).toBe('failed');
    if (o.kind === 'failed') expect(o.event.mensajeError).toBe(`Alumno ${ghost} no encontrado`);
  });

  it('adopts an account of the same person and refuses one of another person with "Usuario ya existe"', async () => {
    const mine = take();
    const other = take();
    const crashed = take();
    const graphClient = await import('../src/adapters/index.js').then((m) =>
      m.createGraphClient({
        tenantId: h.graph.tenantId,
        clientId: h.graph.app.clientId,
        clientSecret: h.graph.app.clientSecret ?? '',
        authorityHost: h.graph.authorityHost,
        baseUrl: h.graph.graphUrl,
      }),
    );
    // Made by the original system (no employeeId) for `mine`; taken by someone else for `other`.
    await graphClient.createUser({
      userPrincipalName: upnOf(mine),
      displayName: 'x',
      mailNickname: `x${mine.dni}`,
      employeeId: '',
      password: 'Orig#Clave-2345xyz',
    });
    await graphClient.createUser({
      userPrincipalName: upnOf(other),
      displayName: 'y',
      mailNickname: `y${other.dni}`,
      employeeId: '99999999',
      password: 'Orig#Clave-2345xyz',
    });
    // What an attempt that crashed right after Graph answered leaves: the account, with employeeId, unrecorded.
    await graphClient.createUser({
      userPrincipalName: upnOf(crashed),
      displayName: 'z',
      mailNickname: `z${crashed.dni}`,
      employeeId: crashed.dni,
      password: 'Lost#Clave-2345xyz',
    });
    const users = h.graph.users().length;
    const resumed = await runOne(ACTIVAR, crashed);
    expect(resumed.outcome.kind).toBe('succeeded');
    expect(h.graph.users().length).toBe(users);
    const [resumedEmail] = (await h.emails()).filter((e) => e.command.alumnoId === crashed.id);
    const resolved = await h.identity.resolveCredential({
      credentialRef: resumedEmail!.command.credentialRef,
      alumnoId: crashed.id,
      taskId: resumedEmail!.taskId,
    });
    // The password e-mailed is the one the account has now.
    expect(h.graph.user(upnOf(crashed))?.passwordProfile?.password).toBe(resolved.password);
    expect(h.graph.user(upnOf(crashed))?.assignedLicenses.map((l) => l.skuId)).toEqual([STUDENT_SKU.skuId]);

    const adopted = await runOne(ACTIVAR, mine);
    expect(adopted.outcome.kind).toBe('succeeded');
    // Its password is not Lucy's: not changed, and no credentials e-mail with a wrong password.
    expect(h.graph.user(upnOf(mine))?.passwordProfile?.password).toBe('Orig#Clave-2345xyz');
    expect((await h.emails()).filter((e) => e.command.alumnoId === mine.id)).toHaveLength(0);
    const refused = await runOne(ACTIVAR, other);
    expect(refused.outcome.kind).toBe('failed');
    if (refused.outcome.kind === 'failed')
      expect(refused.outcome.event.mensajeError).toMatch(
        /^Usuario ya existe: .*pertenece a otra persona \(employeeId 99999999\)/,
      );
  });

  it('creates a Teams user without e-mail, and the temporary password is revealed only to an admin, audited', async () => {
    const a = take();
    const { outcome } = await runOne(CREAR, a);
    expect(outcome.kind).toBe('succeeded');
    expect((await h.emails()).filter((e) => e.command.alumnoId === a.id)).toHaveLength(0);
    const noAdmin = await rejectionOf(
      h.identity.revealPassword({
        alumnoId: a.id,
        requestedBy: 'ana',
        motivo: 'el alumno no recibió el correo',
      }),
    );
    expect((noAdmin as ConnectError).code).toBe(Code.PermissionDenied);
    const noReason = await rejectionOf(
      h.identity.revealPassword({ alumnoId: a.id, requestedBy: 'ana', motivo: '' }, admin),
    );
    expect((noReason as ConnectError).code).toBe(Code.InvalidArgument);
    const hostile = await rejectionOf(
      h.identity.revealPassword(
        { alumnoId: a.id, requestedBy: 'ana\u0000', motivo: 'x'.repeat(5000) },
        admin,
      ),
    );
    expect((hostile as ConnectError).code).toBe(Code.InvalidArgument);
    expect((hostile as ConnectError).rawMessage).toMatch(/motivo: el motivo/i);
    expect((hostile as ConnectError).rawMessage).toMatch(/requested_by: el usuario/i);
    const revealed = await h.identity.revealPassword(
      { alumnoId: a.id, requestedBy: 'ana', motivo: 'el alumno no recibió el correo' },
      admin,
    );
    expect(revealed.password).toBe(h.graph.user(upnOf(a))?.passwordProfile?.password);
    const audit = (await h
      .service!.knex.withSchema('identity')
      .table('auditoria')
      .where('alumno_id', a.id)) as {
      accion: string;
      usuario: string;
      motivo: string;
    }[];
    expect(audit).toEqual([
      expect.objectContaining({
        accion: 'revelar',
        usuario: 'ana',
        motivo: 'el alumno no recibió el correo',
      }),
    ]);
    // Stored sealed (v2:<kid>:…), never in clear.
    const [row] = (await h
      .service!.knex.withSchema('identity')
      .table('credencial')
      .where('alumno_id', a.id)) as {
      sealed: string;
      key_id: string;
    }[];
    expect(row!.sealed).toMatch(/^v2:k1:/);
    expect(row!.sealed).not.toContain(revealed.password);
  });

  it('resets the password and e-mails it; an alumno without account fails with the reason', async () => {
    const a = take();
    expect((await runOne(CREAR, a)).outcome.kind).toBe('succeeded');
    const before = h.graph.user(upnOf(a))!.passwordProfile.password;
    const { outcome } = await runOne(RESETEAR, a);
    expect(outcome.kind).toBe('succeeded');
    const after = h.graph.user(upnOf(a))!.passwordProfile;
    expect(after.password).not.toBe(before);
    expect(after.forceChangePasswordNextSignIn).toBe(true);
    const [email] = (await h.emails()).filter((e) => e.command.alumnoId === a.id);
    expect(email!.command.tipo).toBe(TipoEmail.PASSWORD_RESET);
    const resolved = await h.identity.resolveCredential({
      credentialRef: email!.command.credentialRef,
      alumnoId: a.id,
      taskId: email!.taskId,
    });
    expect(resolved.password).toBe(after.password);

    const none = take();
    const failed = await runOne(RESETEAR, none);
    expect(failed.outcome.kind).toBe('failed');
    if (failed.outcome.kind === 'failed')
      expect(failed.outcome.event.mensajeError).toContain('no tiene cuenta de Microsoft 365');
  });

  it('fails with "Sin licencias disponibles (SKU …)" when no seat is left, and with the 403 permission on licences', async () => {
    const a = take();
    h.graph.setSeats(
      STUDENT_SKU.skuId,
      h.graph.state().skus.find((k) => k.skuId === STUDENT_SKU.skuId)!.consumed,
    );
    const noSeat = await runOne(CREAR, a);
    expect(noSeat.outcome.kind).toBe('failed');
    if (noSeat.outcome.kind === 'failed')
      expect(noSeat.outcome.event.mensajeError).toBe(
        'Sin licencias disponibles (SKU STANDARDWOFFPACK_STUDENT)',
      );
    h.graph.setSeats(STUDENT_SKU.skuId, 500);
  });

  it('pre-checks an Enqueue: sin e-mail rejected, unknown alumno rejected, more than the batch limit refused', async () => {
    const sinEmail = h.alumnos.find((a) => a.emailPersonal === '');
    const a = take();
    const ids = [a.id, '0190f0f0-0000-7000-8000-000000000002', ...(sinEmail ? [sinEmail.id] : [])];
    const res = await enqueue(ACTIVAR, ids);
    expect(res.resultados.map((r) => r.estado)).toEqual([
      'programada',
      'rechazado',
      ...(sinEmail ? ['rechazado'] : []),
    ]);
    expect(res.resultados[1]!.motivo).toBe('Alumno 0190f0f0-0000-7000-8000-000000000002 no encontrado');
    if (sinEmail) expect(res.resultados[2]!.motivo).toContain('Sin e-mail');
    await h.waitOutcome(res.taskIds[0]!);
    const tooMany = await rejectionOf(
      enqueue(
        ACTIVAR,
        pool.slice(0, 6).map((x) => x.id),
      ),
    );
    expect((tooMany as ConnectError).code).toBe(Code.InvalidArgument);
    expect((tooMany as ConnectError).rawMessage).toContain('el máximo por solicitud es 5');
  });

  it("pre-checks an activation that the tipo's configuration turns off as omitido, queueing nothing", async () => {
    const ventana = (on: boolean) => ({
      configuracion: {
        ventanas: [{ tipo: TipoIngesta.ASPIRANTES, activarTeams: on, activarMoodle: on, enviarEmail: on }],
      },
      requestedBy: 'test',
    });
    await h.ingestRpc.updateConfiguracion(ventana(false));
    try {
      const res = await enqueue(ACTIVAR, [take().id]);
      expect(res.resultados.map((r) => [r.estado, r.taskId])).toEqual([['omitido', '']]);
      expect(res.resultados[0]!.motivo).toContain(
        'no activa Teams ni Moodle (activar_teams, activar_moodle)',
      );
    } finally {
      await h.ingestRpc.updateConfiguracion(ventana(true));
    }
  });

  it('shows the account on the alumno in ingest-sial, keeps it across re-ingestion, and removes it when the alumno is deleted', async () => {
    const a = take();
    const kept = take();
    for (const x of [a, kept]) expect((await runOne(ACTIVAR, x)).outcome.kind).toBe('succeeded');
    const projected = await waitFor(async () => {
      const { alumno } = await h.alumnoRpc.getAlumno({ id: a.id });
      return alumno?.emailInstitucional ? alumno : undefined;
    });
    expect(projected).toMatchObject({
      emailInstitucional: upnOf(a),
      teamsProcesado: true,
      moodleProcesado: true,
      // Requested, not sent: no notifier runs here (email-enviado.test.ts has the whole path).
      emailProcesado: false,
    });
    const withAccount = await h.alumnoRpc.listAlumnos({
      filter: { conEmailInstitucional: true, ids: [a.id, take().id] },
      page: { pageSize: 10 },
    });
    expect(withAccount.alumnos.map((x) => x.id)).toEqual([a.id]);
    await h.reingest();
    expect((await h.alumnoRpc.getAlumno({ id: a.id })).alumno?.emailInstitucional).toBe(upnOf(a));

    await waitFor(async () => (await h.alumnoRpc.getAlumno({ id: kept.id })).alumno?.emailInstitucional);
    await h.alumnoRpc.deleteAlumno({ id: kept.id, requestedBy: 'ana', conservarCuentasExternas: true });
    await h.alumnoRpc.deleteAlumno({ id: a.id, requestedBy: 'ana' });
    // The record is marked eliminada once both deletions (Graph, then Moodle) are done.
    await waitFor(
      async () => (await h.identity.getCuenta({ alumnoId: a.id })).cuenta?.estado === 'eliminada',
      {
        what: "the deleted alumno's accounts removed",
      },
    );
    expect(h.graph.user(upnOf(a))?.deletedDateTime).toBeTruthy();
    expect(h.moodle.state().users.find((u) => u.username === upnOf(a))).toBeUndefined();
    // The alumno that kept its accounts still has them.
    expect(h.graph.user(upnOf(kept))?.deletedDateTime).toBeFalsy();
    expect((await h.identity.getCuenta({ alumnoId: kept.id })).cuenta?.estado).toBe('activa');
  });

  it('refuses to delete a UPN outside the safe prefix in Graph and Moodle, failing the Tarea with a security warning', async () => {
    const a = take();
    const prod = `a${a.dni}@${DOMAIN}`;
    const { taskId } = await h.publisher.publish(
      'lucy.cmd.identity.eliminar_cuenta_externa',
      EliminarCuentaExternaCommandSchema,
      { alumnoId: a.id, upn: prod },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'ana', trigger: 'admin' },
    );
    const o = await h.waitOutcome(taskId);
    expect(o.kind).toBe('failed');
    if (o.kind === 'failed')
      expect(o.event.mensajeError).toMatch(/^SEGURIDAD: no se elimina la cuenta «a\d+@/);
    // A test- UPN in Graph but a production Moodle username is refused too.
    const { taskId: t2 } = await h.publisher.publish(
      'lucy.cmd.identity.eliminar_cuenta_externa',
      EliminarCuentaExternaCommandSchema,
      { alumnoId: a.id, upn: upnOf(a), moodleUsername: 'admin' },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'ana', trigger: 'admin' },
    );
    const o2 = await h.waitOutcome(t2);
    expect(o2.kind).toBe('failed');
    if (o2.kind === 'failed') expect(o2.event.mensajeError).toContain('«admin»');
  });

  it('deletes Teams and Moodle accounts, holds deletions past the limit for an admin, and runs them once confirmed', async () => {
    // One deletion already happened in this hour (the alumno deleted above); the limit is 4.
    const group = [take(), take(), take(), take()];
    for (const a of group) expect((await runOne(CREAR, a)).outcome.kind).toBe('succeeded');
    const results = [];
    for (const a of group) {
      const { taskId, upn } = await h.identity.deleteExternalAccount({
        alumnoId: a.id,
        requestedBy: 'ana',
        motivo: 'baja',
      });
      expect(upn).toBe(upnOf(a));
      results.push(await h.waitOutcome(taskId));
    }
    expect(results.map((r) => r.kind)).toEqual(['succeeded', 'succeeded', 'succeeded', 'skipped']);
    for (const a of group.slice(0, 3)) {
      expect(h.graph.user(upnOf(a))?.deletedDateTime).toBeTruthy();
      expect(h.moodle.state().users.find((u) => u.username === upnOf(a))).toBeUndefined();
      expect((await h.identity.getCuenta({ alumnoId: a.id })).cuenta?.estado).toBe('eliminada');
    }
    const held = group[3]!;
    expect(h.graph.user(upnOf(held))?.deletedDateTime).toBeFalsy();
    const { retenidas } = await h.identity.listHeldDeletions({});
    expect(retenidas.map((r) => r.upn)).toEqual([upnOf(held)]);
    const notAdmin = await rejectionOf(
      h.identity.confirmHeldDeletions({ ids: [retenidas[0]!.id], requestedBy: 'ana' }),
    );
    expect((notAdmin as ConnectError).code).toBe(Code.PermissionDenied);
    const { taskIds } = await h.identity.confirmHeldDeletions(
      { ids: [retenidas[0]!.id], requestedBy: 'jefa' },
      admin,
    );
    expect((await h.waitOutcome(taskIds[0]!)).kind).toBe('succeeded');
    expect(h.graph.user(upnOf(held))?.deletedDateTime).toBeTruthy();
    expect((await h.identity.listHeldDeletions({})).retenidas).toEqual([]);
  });

  it('never puts a temporary password in an event, a command, a Log or a Tarea', async () => {
    const passwords = h.graph
      .users()
      .map((u) => u.passwordProfile?.password)
      .filter((p): p is string => !!p);
    expect(passwords.length).toBeGreaterThan(3);
    const text = Buffer.concat(h.seen.map((d) => Buffer.from(d))).toString('latin1');
    for (const p of passwords) expect(text.includes(p), 'a password leaked').toBe(false);
  });

  it('requires the service token and rejects other callers', async () => {
    const stranger = createRpcClient(IdentityService, {
      baseUrl: h.service!.rpc.url,
      token: `${TEST_TOKEN}x`,
    });
    const err = await rejectionOf(stranger.listCuentas({}));
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    const page = await h.identity.listCuentas({ estado: 'activa', page: { pageSize: 2 } });
    expect(page.cuentas).toHaveLength(2);
    expect(page.page?.nextPageToken).toBe('2');
    void H;
  });
});
