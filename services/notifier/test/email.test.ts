import { fromBinary } from '@bufbuild/protobuf';
import { H } from '@lucy/platform';
import { captureLogger, readStream, waitFor } from '@lucy/testkit';
import { EmailEnviadoSchema, TaskSucceededSchema, TipoEmail, type TaskSucceeded } from '@lucy/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const PASSWORD = 'Temporal-Qx7#91zz';
const { logger, text: logged } = captureLogger('notifier', 'debug');
let h: Harness;

beforeAll(async () => {
  h = await startHarness('notifier_email', { logger });
}, 30_000);
afterAll(async () => {
  await h?.stop();
});

let n = 0;
/** A new alumno (and, when asked, a credential of it) in the fake registry. */
function alumno(
  fields: { emailPersonal?: string; emailInstitucional?: string; password?: string; revoked?: boolean } = {},
) {
  n++;
  const id = `0193a1b2-0000-7000-8000-${String(n).padStart(12, '0')}`;
  const dni = String(40_000_000 + n);
  h.directory.alumnos.set(id, {
    id,
    nombre: ' Ana María ',
    apellido: 'Pérez',
    dni,
    emailPersonal: fields.emailPersonal ?? `ana${n}@gmail.com`,
    emailInstitucional: fields.emailInstitucional ?? `test-${dni}@eco.unrc.edu.ar`,
  });
  const credentialRef = `cred-${n}`;
  h.directory.credentials.set(credentialRef, {
    alumnoId: id,
    upn: `test-${dni}@eco.unrc.edu.ar`,
    password: fields.password ?? PASSWORD,
    revoked: fields.revoked ?? false,
  });
  return { id, dni, credentialRef, upn: `test-${dni}@eco.unrc.edu.ar` };
}

const emailEnviados = async () =>
  (await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('notify', 'email_enviado'))).map((m) =>
    fromBinary(EmailEnviadoSchema, m.data),
  );

const detallesOf = (e: TaskSucceeded) => (e.detalles ?? {}) as Record<string, unknown>;

async function entregaOf(taskId: string) {
  const { entregas } = await h.notifier.listEntregas({ taskId });
  expect(entregas).toHaveLength(1);
  return entregas[0]!;
}

describe('credential e-mails through the SMTP sink', () => {
  it('sends the credentials e-mail to the personal address with the resolved password in both parts', async () => {
    const a = alumno();
    const taskId = await h.enviar({
      alumnoId: a.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: a.credentialRef,
    });

    const done = await h.succeeded(taskId);
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes(`ana${n}@gmail.com`), 5_000);

    expect(mail.envelope).toEqual({ from: 'no-reply@v.eco.unrc.edu.ar', to: [`ana${n}@gmail.com`] });
    expect(mail.from).toEqual({
      name: 'Facultad de Ciencias Económicas - UNRC',
      address: 'no-reply@v.eco.unrc.edu.ar',
    });
    expect(mail.replyTo).toEqual([{ name: 'Soporte V.ECO', address: 'v.estudiantes@fce.unrc.edu.ar' }]);
    expect(mail.subject).toBe('Credenciales de acceso - UNRC');
    expect(mail.messageId).toBe(`<tarea-${taskId}@v.eco.unrc.edu.ar>`);
    expect(mail.headers['x-lucy-task-id']).toEqual([taskId]);
    expect(mail.headers['auto-submitted']).toEqual(['auto-generated']);
    expect(mail.headers['content-type']?.[0]).toMatch(/^multipart\/alternative/);
    expect(mail.html).toContain('<h2 class="title">Hola Ana María Pérez,</h2>');
    expect(mail.html).toContain(`<p class="value"><b>${a.upn}</b></p>`);
    expect(mail.html).toContain(`<p class="value"><b>Temporal-Qx7#91zz</b></p>`);
    expect(mail.text).toContain(`Usuario\n\n${a.upn}`);
    expect(mail.text).toContain(`Contraseña temporal\n\n${PASSWORD}`);
    expect(mail.text).not.toContain('<');
    // The password was asked for at send time, for this alumno and this Tarea.
    expect(h.directory.resolved).toContainEqual({ credentialRef: a.credentialRef, alumnoId: a.id, taskId });

    const detalles = detallesOf(done);
    expect(detalles).toMatchObject({
      tipo: 'credenciales',
      destinatario: `ana${n}@gmail.com`,
      message_id: mail.messageId,
      plantilla_version: 1,
      intentos: 1,
    });
    expect(JSON.stringify(detalles)).not.toContain(PASSWORD);
    const entrega = await entregaOf(taskId);
    expect(entrega).toMatchObject({
      alumnoId: a.id,
      tipo: TipoEmail.CREDENCIALES,
      destinatario: `ana${n}@gmail.com`,
      estado: 'enviada',
      messageId: mail.messageId,
      plantillaVersion: 1,
      intentos: 1,
      error: '',
    });
    expect(entrega.respuestaSmtp).toMatch(/^250 /);
  });

  it('does not send again when the command of an accepted e-mail runs again', async () => {
    const a = alumno();
    const taskId = await h.enviar({
      alumnoId: a.id,
      tipo: TipoEmail.PASSWORD_RESET,
      credentialRef: a.credentialRef,
    });
    await h.succeeded(taskId);
    // The runner's own outcome record is gone (as after a crash between our delivery record and its outcome
    // write): only the delivery record stands between the command delivered again and a second e-mail.
    const outcomes = await h.t.handles.kvm.open(h.t.names.buckets.outcomes);
    await outcomes.purge(taskId);
    await h.enviar(
      { alumnoId: a.id, tipo: TipoEmail.PASSWORD_RESET, credentialRef: a.credentialRef },
      { taskId, msgId: `${taskId}-again` },
    );
    const events = await waitFor(
      async () => {
        const e = await h.taskEvents(taskId, 'succeeded');
        return e.length >= 2 ? e : undefined;
      },
      { what: 'second succeeded event', timeoutMs: 10_000 },
    );
    const second: TaskSucceeded = fromBinary(TaskSucceededSchema, events[1]!.data);
    expect(detallesOf(second)).toMatchObject({ ya_enviada: true, intentos: 1 });
    const mails = h.sink.messages().filter((m) => m.envelope.to.includes(`ana${n}@gmail.com`));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.subject).toBe('Nueva contraseña temporal - FCE UNRC');
    expect((await entregaOf(taskId)).intentos).toBe(1);
    // The rest of the system heard of it once: both runs published email_enviado under one Nats-Msg-Id.
    const enviados = (await emailEnviados()).filter((e) => e.taskId === taskId);
    expect(enviados).toHaveLength(1);
    expect(enviados[0]).toMatchObject({
      alumnoId: a.id,
      tipo: TipoEmail.PASSWORD_RESET,
      credentialRef: a.credentialRef,
      messageId: mails[0]!.messageId,
    });
  });

  it('tells the rest of the system once the relay accepted an e-mail, and never before', async () => {
    const a = alumno();
    h.sink.setFaults({ rejectTemporary: 1 });
    try {
      const taskId = await h.enviar({
        alumnoId: a.id,
        tipo: TipoEmail.CREDENCIALES,
        credentialRef: a.credentialRef,
      });
      // The 451 attempt published nothing; the accepted one did, with the Tarea's headers.
      await h.succeeded(taskId);
      const stored = (
        await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('notify', 'email_enviado'))
      ).filter((m) => m.header(H.taskId) === taskId);
      expect(stored).toHaveLength(1);
      expect(stored[0]!.header(H.taskType)).toBe('alumnos.tasks.enviar_email_credenciales');
      const event = fromBinary(EmailEnviadoSchema, stored[0]!.data);
      expect(event).toMatchObject({ alumnoId: a.id, tipo: TipoEmail.CREDENCIALES, taskId });
      expect(event.enviadoEn).toBeDefined();
      expect((await entregaOf(taskId)).intentos).toBe(2);
    } finally {
      h.sink.clearFaults();
    }
  });

  it('lists the courses of the enrolment e-mail, escaped, and says they will come when there are none', async () => {
    const withCourses = alumno();
    const taskId = await h.enviar({
      alumnoId: withCourses.id,
      tipo: TipoEmail.ENROLAMIENTO,
      cursos: ['Ingreso Contabilidad (Cát 1 y 2)', 'Matemática <I>'],
    });
    await h.succeeded(taskId);
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes(`ana${n}@gmail.com`), 5_000);
    expect(mail.html).toContain('<li>Ingreso Contabilidad (Cát 1 y 2)</li>');
    expect(mail.html).toContain('<li>Matemática &lt;I&gt;</li>');
    expect(mail.html).not.toContain('Serás notificado');
    expect(mail.text).toContain('Ingreso Contabilidad (Cát 1 y 2)');
    expect(mail.text).toContain('Matemática <I>');

    const without = alumno();
    await h.succeeded(await h.enviar({ alumnoId: without.id, tipo: TipoEmail.ENROLAMIENTO }));
    const plain = await h.sink.waitFor((m) => m.envelope.to.includes(`ana${n}@gmail.com`), 5_000);
    expect(plain.html).toContain('Serás notificado cuando los cursos estén disponibles.');
    expect(plain.html).not.toContain('<li>');

    // Bad lists are refused, naming the field.
    const bad = await h.enviar({ alumnoId: without.id, tipo: TipoEmail.ENROLAMIENTO, cursos: ['  '] });
    expect((await h.failed(bad)).mensajeError).toContain('cursos:');
  });

  it('falls back to the institutional address, and fails with the reason when there is none', async () => {
    const a = alumno({ emailPersonal: '' });
    const ok = await h.enviar({ alumnoId: a.id, tipo: TipoEmail.BIENVENIDA });
    expect(detallesOf(await h.succeeded(ok)).destinatario).toBe(`test-${a.dni}@eco.unrc.edu.ar`);

    const b = alumno({ emailPersonal: ' ', emailInstitucional: '' });
    const ko = await h.enviar({
      alumnoId: b.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: b.credentialRef,
    });
    const failed = await h.failed(ko);
    expect(failed.mensajeError).toBe(
      'No se puede enviar el correo: el alumno no tiene e-mail personal ni institucional. Cargue un e-mail personal válido y vuelva a intentarlo.',
    );
    expect(failed.errorCode).toBe('EMAIL_SIN_DESTINATARIO');
    expect(await entregaOf(ko)).toMatchObject({ estado: 'fallida', destinatario: '', intentos: 0 });
  });

  it('fails the Tarea in Spanish without sending when the credential is revoked or unknown', async () => {
    const a = alumno({ revoked: true });
    const revoked = await h.enviar({
      alumnoId: a.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: a.credentialRef,
    });
    const failed = await h.failed(revoked);
    expect(failed.willRetry).toBe(false);
    expect(failed.mensajeError).toContain('la contraseña temporal ya no está disponible');
    expect(failed.mensajeError).toContain('credencial revocada');

    const b = alumno();
    const unknown = await h.enviar({
      alumnoId: b.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: 'cred-de-otro',
    });
    expect((await h.failed(unknown)).mensajeError).toContain('credencial desconocida');
    expect((await entregaOf(unknown)).estado).toBe('fallida');

    // identity-teams binds a reference to the e-mail Tarea it was issued for.
    h.directory.credentials.get(b.credentialRef)!.taskId = 'otra-tarea';
    const foreign = await h.enviar({
      alumnoId: b.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: b.credentialRef,
    });
    const foreignFailed = await h.failed(foreign);
    expect(foreignFailed.mensajeError).toContain('no corresponde a esa tarea de e-mail');
    expect(foreignFailed.mensajeError).toContain('la contraseña temporal ya no está disponible');

    const missing = await h.enviar({ alumnoId: b.id, tipo: TipoEmail.CREDENCIALES });
    expect((await h.failed(missing)).mensajeError).toContain(
      'credential_ref: el correo «Credenciales de acceso» necesita la referencia a la contraseña temporal.',
    );
    const ghost = await h.enviar({
      alumnoId: '0193a1b2-ffff-7000-8000-000000000000',
      tipo: TipoEmail.BIENVENIDA,
    });
    expect((await h.failed(ghost)).mensajeError).toContain('no existe en el registro');
    for (const to of [`ana${n - 1}@gmail.com`, `ana${n}@gmail.com`]) {
      expect(h.sink.messages().filter((m) => m.envelope.to.includes(to))).toEqual([]);
    }
  });

  it('retries an unreachable registry and a 451, then sends once', async () => {
    const a = alumno();
    h.directory.failNext(1);
    h.sink.setFaults({ rejectTemporary: 1 });
    const taskId = await h.enviar({
      alumnoId: a.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: a.credentialRef,
    });

    const done = await h.succeeded(taskId);
    const retries = await h.taskEvents(taskId, 'failed');
    expect(retries.length).toBe(2);
    expect(done.attempt).toBe(3);
    const mails = h.sink.messages().filter((m) => m.envelope.to.includes(`ana${n}@gmail.com`));
    expect(mails).toHaveLength(1);
    expect(await entregaOf(taskId)).toMatchObject({ estado: 'enviada', intentos: 2 });
  });

  it('fails permanently with the server reply on a 554, and records it', async () => {
    const a = alumno();
    h.sink.setFaults({ rejectPermanent: 1 });
    const taskId = await h.enviar({
      alumnoId: a.id,
      tipo: TipoEmail.CREDENCIALES,
      credentialRef: a.credentialRef,
    });
    const failed = await h.failed(taskId);
    expect(failed.willRetry).toBe(false);
    expect(failed.errorCode).toBe('SMTP_REJECTED');
    expect(failed.mensajeError).toMatch(/^El servidor SMTP rechazó el correo: 554 /);
    const entrega = await entregaOf(taskId);
    expect(entrega).toMatchObject({ estado: 'fallida', intentos: 1 });
    expect(entrega.respuestaSmtp).toMatch(/^554 /);
    expect(entrega.error).toBe(failed.mensajeError);
  });

  it('sends the template staff saved and records its version', async () => {
    const saved = await h.notifier.updatePlantilla({
      plantilla: {
        tipo: TipoEmail.ENROLAMIENTO,
        asunto: 'Ya podés entrar a V.ECO, {nombre}',
        cuerpo: 'Hola {nombre} {apellido}:\nentrá a {moodle_url} con {upn}.\n{cursos}',
      },
      requestedBy: 'ana.staff',
    });
    expect(saved.plantilla?.version).toBe(2);
    const a = alumno();
    const taskId = await h.enviar({ alumnoId: a.id, tipo: TipoEmail.ENROLAMIENTO, upn: a.upn });
    await h.succeeded(taskId);
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes(`ana${n}@gmail.com`), 5_000);
    expect(mail.subject).toBe('Ya podés entrar a V.ECO, Ana María');
    expect(mail.text?.trim()).toBe(
      `Hola Ana María Pérez:\nentrá a https://v.eco.unrc.edu.ar con ${a.upn}.\nSerás notificado cuando los cursos estén disponibles.`,
    );
    expect((await entregaOf(taskId)).plantillaVersion).toBe(2);
  });

  it('never logs or records the temporary passwords', async () => {
    const rows: unknown = await h.service.knex.raw(`select row_to_json(e)::text as j from notify.entrega e`);
    const records = (rows as { rows: { j: string }[] }).rows.map((r) => r.j).join('\n');
    expect(records).toContain('enviada');
    expect(records).not.toContain(PASSWORD);
    const output = logged();
    expect(output).toContain('e-mail sent');
    expect(output).not.toContain(PASSWORD);
    expect(output).not.toContain('Contraseña temporal');
  });
});
