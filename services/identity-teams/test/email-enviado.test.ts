/**
 * The whole credentials path with the real notifier: identity-teams activates an alumno and asks for the e-mail,
 * the notifier resolves the password from identity-teams and sends it to the SMTP sink, publishes
 * `lucy.evt.notify.email_enviado`, identity-teams records it on the account, and ingest-sial shows the alumno's
 * `email_procesado` — only then, never when the e-mail was merely requested.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createSmtpSink, type SmtpSink } from '@lucy/fake-smtp';
import {
  loadConfig as loadNotifierConfig,
  startNotifierService,
  type NotifierServiceHandle,
} from '@lucy/notifier';
import { CONTENT_TYPE, encode } from '@lucy/platform';
import { EmailEnviadoSchema, TipoEmail, type Alumno } from '@lucy/proto';
import { testEnv, testLogger, waitFor } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpn } from '../src/domain/index.js';
import { ADMIN_TOKEN, DOMAIN, startHarness, type Harness } from './harness.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const admin = { headers: { 'lucy-admin-token': ADMIN_TOKEN } };

describe('credentials e-mail sent, end to end', () => {
  let h: Harness;
  let sink: SmtpSink;
  let notifier: NotifierServiceHandle | undefined;
  let pool: Alumno[];
  const take = () => pool.shift()!;
  const upnOf = (a: Alumno) => buildUpn({ prefix: 'test-a', dni: a.dni, domain: DOMAIN });

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_email_enviado', aspirantes: 6 });
    pool = h.alumnos.filter((a) => a.emailPersonal !== '');
    sink = await createSmtpSink({ port: 0 });
  }, 120_000);

  afterAll(async () => {
    await notifier?.stop();
    await sink?.close();
    await h?.stop();
  });

  const startNotifier = async () => {
    notifier = await startNotifierService(
      loadNotifierConfig(
        testEnv({
          DATABASE_URL: h.db.url,
          LUCY_PREFIX: h.t.prefix,
          MIGRATE_ON_START: 'true',
          SMTP_HOST: sink.host,
          SMTP_PORT: String(sink.port),
          INGEST_RPC_URL: h.ingest.rpc.url,
          IDENTITY_RPC_URL: h.service!.rpc.url,
        }),
      ),
      { logger: testLogger('notifier'), backoffMs: () => 200 },
    );
  };

  /** Waits until identity-teams' consumer of the notifier's events has nothing left to take. */
  const emailEventsSettled = async () => {
    const stream = h.t.names.streams.evt;
    await waitFor(
      async () => {
        const info = await h.t.handles.jsm.consumers.info(stream, 'identity-teams_email_enviado');
        return info.num_pending === 0 && info.num_ack_pending === 0;
      },
      { what: 'the email_enviado consumer idle', timeoutMs: 30_000 },
    );
  };

  it('ignores an email_enviado event whose credential is not the alumno’s (forged or stray)', async () => {
    const victim = take();
    const owner = take();
    for (const x of [victim, owner]) {
      const res = await h.identity.enqueue({ alumnoIds: [x.id], taskName: ACTIVAR, requestedBy: 'ana' });
      expect((await h.waitOutcome(res.taskIds[0]!)).kind).toBe('succeeded');
    }
    // No notifier runs yet: nothing was sent. A forged event reuses the owner's reference for the victim.
    const cred = (await h
      .service!.knex.withSchema('identity')
      .table('credencial')
      .where('alumno_id', owner.id)
      .first()) as { ref: string; email_task_id: string };
    const forge = (alumnoId: string, tipo: TipoEmail) =>
      h.t.handles.js.publish(
        h.t.names.evt('notify', 'email_enviado'),
        encode(
          EmailEnviadoSchema,
          create(EmailEnviadoSchema, {
            alumnoId,
            tipo,
            taskId: cred.email_task_id,
            credentialRef: cred.ref,
            enviadoEn: timestampFromDate(new Date()),
          }),
          CONTENT_TYPE.protobuf,
        ),
      );
    await forge(victim.id, TipoEmail.CREDENCIALES);
    // A welcome e-mail is no credentials e-mail, even with the owner's own reference.
    await forge(owner.id, TipoEmail.BIENVENIDA);
    await emailEventsSettled();
    for (const x of [victim, owner]) {
      expect((await h.identity.getCuenta({ alumnoId: x.id })).cuenta?.emailEnviado).toBe(false);
      expect((await h.alumnoRpc.getAlumno({ id: x.id })).alumno?.emailProcesado).toBe(false);
    }
  });

  it('sets email_procesado only once the relay accepted the e-mail, with the password the vault holds', async () => {
    const a = take();
    // No notifier yet: the e-mail is requested, not sent.
    const res = await h.identity.enqueue({ alumnoIds: [a.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect(res.resultados[0]?.estado).toBe('programada');
    expect((await h.waitOutcome(res.taskIds[0]!)).kind).toBe('succeeded');
    await waitFor(async () => (await h.alumnoRpc.getAlumno({ id: a.id })).alumno?.teamsProcesado, {
      what: 'the account projected',
    });
    const before = (await h.alumnoRpc.getAlumno({ id: a.id })).alumno!;
    expect(before.emailInstitucional).toBe(upnOf(a));
    expect(before.emailProcesado).toBe(false);
    const requested = (await h.identity.getCuenta({ alumnoId: a.id })).cuenta!;
    expect(requested).toMatchObject({ emailSolicitado: true, emailEnviado: false });

    await startNotifier();
    const mail = await sink.waitFor((m) => m.envelope.to.includes(a.emailPersonal), 60_000);
    const { password } = await h.identity.revealPassword(
      { alumnoId: a.id, requestedBy: 'ana', motivo: 'comprobar el correo enviado' },
      admin,
    );
    expect(mail.text).toContain(upnOf(a));
    expect(mail.text).toContain(password);

    const after = await waitFor(
      async () => {
        const { alumno } = await h.alumnoRpc.getAlumno({ id: a.id });
        return alumno?.emailProcesado ? alumno : undefined;
      },
      { what: 'email_procesado on the alumno', timeoutMs: 60_000 },
    );
    expect(after).toMatchObject({ teamsProcesado: true, emailInstitucional: upnOf(a) });
    const cuenta = (await h.identity.getCuenta({ alumnoId: a.id })).cuenta!;
    expect(cuenta.emailEnviado).toBe(true);
    expect(cuenta.emailEnviadoEn).toBeDefined();
    // Exactly one e-mail to the alumno.
    expect(sink.messages().filter((m) => m.envelope.to.includes(a.emailPersonal))).toHaveLength(1);
  });
});
