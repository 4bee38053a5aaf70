/**
 * The worker of `alumnos.tasks.enviar_email_credenciales` (`lucy.cmd.notify.enviar_email`): looks the alumno up,
 * resolves the temporary password by its credential reference at send time, renders the stored template and
 * sends it, with a delivery record checked before and written around the SMTP transaction so that a redelivered
 * command never sends an e-mail the relay already accepted (see db/entrega.repository.ts for the residual window).
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  createBatchPublisher,
  createCommandWorker,
  publishAllOrThrow,
  encode,
  errorMessage,
  H,
  PermanentError,
  taskHeaders,
  ValidationError,
  type Buckets,
  type CommandWorker,
  type FieldError,
  type HandlerResult,
  type Logger,
  type Names,
  type NatsHandles,
  type TaskContext,
} from '@lucy/platform';
import {
  EmailEnviadoSchema,
  EnviarEmailCommandSchema,
  TipoEmail,
  type EnviarEmailCommand,
} from '@lucy/proto';
import type { AlumnoContacto, Directory, Mailer, SendResult } from '../adapters/index.js';
import {
  buildEmail,
  elegirDestinatario,
  isTipoEmailConocido,
  messageIdFor,
  nombreTipoEmail,
  type EmailRenderizado,
  type TipoEmailConocido,
} from '../domain/index.js';
import {
  beginEntrega,
  createPlantillaCache,
  failBeforeSending,
  findEntregaByTask,
  finishEntrega,
  tipoToDb,
  type EntregaGuardada,
  type PlantillaCache,
} from '../db/index.js';
import { notifyMetrics } from '../metrics.js';

export const ENVIAR_EMAIL_SUBJECT = 'lucy.cmd.notify.enviar_email';
export const ENVIAR_EMAIL_TASK = 'alumnos.tasks.enviar_email_credenciales';
/** Published once the relay accepted an e-mail (identity-teams marks the account's credentials e-mail sent). */
export const EMAIL_ENVIADO_EVENT = { domain: 'notify', event: 'email_enviado' } as const;

/** Dependencies of the e-mail worker. */
export interface EmailWorkerDeps {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  buckets: Buckets;
  logger: Logger;
  worker: string;
  clock: () => Date;
  mailer: Mailer;
  directory: Directory;
  /** The current templates; default a cache of its own (2 s). */
  plantillas?: PlantillaCache;
  /** Domain of the Message-ID (the sender's). */
  messageIdDomain: string;
  /** {moodle_url} of the enrolment e-mail. */
  moodleUrl: string;
  concurrency: number;
  maxAttempts: number;
  ackWaitMs: number;
  backoffMs?: ((attempt: number) => number) | undefined;
}

const conPassword = (tipo: TipoEmail) => tipo === TipoEmail.CREDENCIALES || tipo === TipoEmail.PASSWORD_RESET;

/** Semantic validation of the command (Spanish, naming the field). */
export function validateEnviarEmail(m: EnviarEmailCommand): FieldError[] {
  const errors: FieldError[] = [];
  if (m.alumnoId.trim() === '') errors.push({ field: 'alumno_id', message: 'falta el id del alumno.' });
  if (m.cursos.length > 100 || m.cursos.some((c) => c.trim() === '' || c.length > 255)) {
    errors.push({
      field: 'cursos',
      message: 'cada curso es un nombre corto no vacío de hasta 255 caracteres, y son a lo sumo 100.',
    });
  }
  if (!isTipoEmailConocido(m.tipo)) {
    errors.push({
      field: 'tipo',
      message:
        'tipo de e-mail desconocido: debe ser bienvenida, credenciales, nueva contraseña o enrolamiento.',
    });
  } else if (conPassword(m.tipo) && m.credentialRef.trim() === '') {
    errors.push({
      field: 'credential_ref',
      message: `el correo «${nombreTipoEmail(m.tipo)}» necesita la referencia a la contraseña temporal.`,
    });
  }
  return errors;
}

/** The reply the relay gave to a failed send, when it gave one. */
function replyOf(err: unknown): string {
  const response = (err as { cause?: { response?: unknown } } | null)?.cause?.response;
  return typeof response === 'string' ? response : '';
}

function resultOf(e: EntregaGuardada, extra: Record<string, unknown> = {}): HandlerResult {
  return {
    cantidadEntidades: 1,
    detalles: {
      entrega_id: e.id,
      tipo: tipoToDb(e.tipo as TipoEmailConocido),
      destinatario: e.destinatario,
      message_id: e.messageId,
      respuesta_smtp: e.respuestaSmtp,
      plantilla_version: e.plantillaVersion,
      intentos: e.intentos,
      ...extra,
    },
  };
}

// A record write right after the relay accepted must not be lost to a short database blip: that would resend.
async function persistently<T>(what: () => Promise<T>, logger: Logger): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (err) {
      if (attempt >= 5) throw err;
      logger.warn({ err: errorMessage(err), attempt }, 'could not record the delivery; retrying');
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Creates the e-mail worker (not started). */
export function createEmailWorker(deps: EmailWorkerDeps): CommandWorker {
  const { knex, clock, mailer, directory } = deps;
  const plantillas = deps.plantillas ?? createPlantillaCache(knex);
  // The acked publish without `js.publish`'s request machinery (a timer, a promise and two captured stacks each).
  const events = createBatchPublisher(deps.nats.nc);

  /**
   * Tells the rest of the system the relay accepted the e-mail. The same `Nats-Msg-Id` on every attempt; a failure
   * fails the attempt, and its redelivery finds the delivery `enviada` and publishes again without sending.
   */
  const publishEnviado = async (m: EnviarEmailCommand, task: TaskContext, e: EntregaGuardada) => {
    const event = create(EmailEnviadoSchema, {
      alumnoId: m.alumnoId,
      tipo: m.tipo,
      taskId: task.taskId,
      messageId: e.messageId,
      credentialRef: m.credentialRef,
      enviadoEn: timestampFromDate(e.enviadaEn ?? clock()),
    });
    const headers = taskHeaders(task, CONTENT_TYPE.protobuf);
    headers.set(H.msgId, `email_enviado:${task.taskId}`);
    await publishAllOrThrow(events, [
      {
        subject: deps.names.evt(EMAIL_ENVIADO_EVENT.domain, EMAIL_ENVIADO_EVENT.event),
        data: encode(EmailEnviadoSchema, event, CONTENT_TYPE.protobuf),
        headers,
      },
    ]);
  };
  return createCommandWorker({
    js: deps.nats.js,
    jsm: deps.nats.jsm,
    names: deps.names,
    logger: deps.logger,
    worker: deps.worker,
    cancellations: deps.buckets.cancellations,
    durable: 'notifier_enviar_email',
    subject: ENVIAR_EMAIL_SUBJECT,
    taskType: ENVIAR_EMAIL_TASK,
    schema: EnviarEmailCommandSchema,
    validate: validateEnviarEmail,
    alumnoIdOf: (m) => m.alumnoId,
    concurrency: deps.concurrency,
    maxAttempts: deps.maxAttempts,
    ackWaitMs: deps.ackWaitMs,
    ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
    handle: async (ctx) => {
      const m = ctx.message;
      const tipo = m.tipo as TipoEmailConocido;
      const label = tipoToDb(tipo);
      const taskId = ctx.task.taskId;
      // The record, the alumno and the template at once (the credential only once it is known to be needed:
      // every resolution is audited by identity-teams).
      const [previous, alumnoLookup, plantillaLookup] = await Promise.all([
        findEntregaByTask(knex, taskId),
        directory.alumno(m.alumnoId).catch((err: unknown) => err),
        plantillas.get(tipo).catch((err: unknown) => ({ failed: err })),
      ]);
      if (previous?.estado === 'enviada') {
        notifyMetrics.emails.inc({ tipo: label, result: 'already_sent' });
        ctx.logger.info({ entregaId: previous.id, messageId: previous.messageId }, 'e-mail already sent');
        await publishEnviado(m, ctx.task, previous);
        return resultOf(previous, { ya_enviada: true });
      }
      if (previous?.estado === 'fallida') {
        throw new PermanentError(previous.error || 'El envío del correo ya había fallado.', {
          code: 'ENTREGA_FALLIDA',
        });
      }

      // Everything that can fail without the relay: before the record says `enviando`.
      let destinatario = '';
      let plantillaVersion: number | null = null;
      let email: EmailRenderizado;
      try {
        if (!alumnoLookupOk(alumnoLookup)) throw alumnoLookup;
        const alumno = alumnoLookup;
        destinatario = elegirDestinatario(alumno).email;
        if (plantillaLookup && 'failed' in plantillaLookup) throw plantillaLookup.failed;
        const plantilla = plantillaLookup;
        plantillaVersion = plantilla?.version ?? null;
        let upn = m.upn.trim() || alumno.emailInstitucional.trim();
        let password: string | undefined;
        if (conPassword(tipo)) {
          const credencial = await directory.credencial({
            credentialRef: m.credentialRef,
            alumnoId: m.alumnoId,
            taskId,
          });
          password = credencial.password;
          upn = m.upn.trim() || credencial.upn.trim() || upn;
        }
        email = buildEmail(
          tipo,
          plantilla
            ? { asunto: plantilla.asunto, cuerpo: plantilla.cuerpo, texto: plantilla.cuerpoTexto }
            : undefined,
          {
            nombre: alumno.nombre,
            apellido: alumno.apellido,
            dni: alumno.dni,
            email: destinatario,
            upn,
            password,
            moodle_url: deps.moodleUrl,
            cursos: m.cursos,
          },
        );
      } catch (err) {
        if (err instanceof PermanentError || err instanceof ValidationError) {
          notifyMetrics.emails.inc({ tipo: label, result: 'failed' });
          await failBeforeSending(knex, {
            taskId,
            tipo,
            alumnoId: m.alumnoId,
            destinatario,
            plantillaVersion,
            error: err.message,
            ahora: clock(),
          });
        }
        throw err;
      }

      const messageId = messageIdFor(taskId, deps.messageIdDomain);
      const entrega = await beginEntrega(knex, {
        taskId,
        tipo,
        alumnoId: m.alumnoId,
        destinatario,
        plantillaVersion,
        messageId,
        ahora: clock(),
      });
      if (entrega.estado === 'enviada') {
        await publishEnviado(m, ctx.task, entrega);
        return resultOf(entrega, { ya_enviada: true });
      }
      if (entrega.estado === 'fallida') {
        throw new PermanentError(entrega.error || 'El envío del correo ya había fallado.', {
          code: 'ENTREGA_FALLIDA',
        });
      }
      const incierto = previous?.estado === 'enviando';
      if (incierto) {
        notifyMetrics.emails.inc({ tipo: label, result: 'resent_uncertain' });
        ctx.logger.warn(
          { entregaId: entrega.id, messageId },
          'the previous attempt stopped while sending; sending again with the same Message-ID',
        );
      }
      const endTimer = notifyMetrics.smtpSeconds.startTimer();
      let sent: SendResult;
      try {
        sent = await mailer.send({
          to: destinatario,
          subject: email.subject,
          text: email.text,
          html: email.html,
          messageId,
          headers: { 'X-Lucy-Task-Id': taskId },
        });
      } catch (err) {
        endTimer();
        const final = err instanceof PermanentError || ctx.attempt >= deps.maxAttempts;
        await finishEntrega(knex, entrega.id, {
          estado: final ? 'fallida' : 'reintentando',
          respuestaSmtp: replyOf(err),
          error: errorMessage(err),
          ahora: clock(),
        }).catch((e: unknown) => ctx.logger.warn({ err: errorMessage(e) }, 'could not record the failure'));
        notifyMetrics.emails.inc({ tipo: label, result: final ? 'failed' : 'retried' });
        throw err;
      }
      endTimer();
      // If this write never succeeds the record stays `enviando`: the redelivery resends with the same Message-ID.
      const saved = await persistently(
        () =>
          finishEntrega(knex, entrega.id, {
            estado: 'enviada',
            respuestaSmtp: sent.response,
            messageId: sent.messageId || messageId,
            ahora: clock(),
          }),
        ctx.logger,
      );
      notifyMetrics.emails.inc({ tipo: label, result: 'sent' });
      await publishEnviado(m, ctx.task, saved);
      return resultOf(saved, incierto ? { reenvio_incierto: true } : {});
    },
  });
}

function alumnoLookupOk(x: unknown): x is AlumnoContacto {
  return typeof x === 'object' && x !== null && 'emailPersonal' in x && !(x instanceof Error);
}
