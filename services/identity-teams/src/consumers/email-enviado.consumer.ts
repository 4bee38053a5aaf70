/**
 * `lucy.evt.notify.email_enviado` → the account's `email_enviado_en`, published again as
 * `lucy.evt.cuenta.email_enviado` (the whole record) so ingest-sial sets the alumno's `email_procesado`. Only a
 * credentials or new-password e-mail counts, and only when its credential reference is this alumno's and bound to
 * that e-mail Tarea: a stray or forged event changes nothing. A redelivery applies the same time again and
 * republishes under the same `Nats-Msg-Id`.
 */
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  createEventConsumer,
  DecodeError,
  decode,
  encode,
  H,
  header,
  newTraceparent,
  parseTrigger,
  PermanentError,
  taskHeaders,
  type EventConsumer,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import { CuentaActualizadaSchema, EmailEnviadoSchema, TipoEmail } from '@lucy/proto';
import { markEmailEnviado, type Vault } from '../db/index.js';
import { cuentaToPb } from './operation.run.js';

/** Creates the consumer (not started). */
export function createEmailEnviadoConsumer(deps: {
  nats: NatsHandles;
  names: Names;
  logger: Logger;
  knex: Knex;
  vault: Vault;
  clock: () => Date;
}): EventConsumer {
  return createEventConsumer({
    nats: deps.nats,
    names: deps.names,
    logger: deps.logger,
    durable: 'identity-teams_email_enviado',
    subject: 'lucy.evt.notify.email_enviado',
    async handle(msg) {
      let event;
      try {
        event = decode(EmailEnviadoSchema, msg.data, header(msg.headers, H.contentType));
      } catch (err) {
        if (err instanceof DecodeError) throw new PermanentError(err.message, { cause: err });
        throw err;
      }
      if (event.tipo !== TipoEmail.CREDENCIALES && event.tipo !== TipoEmail.PASSWORD_RESET) return;
      const cred = event.credentialRef ? await deps.vault.byRef(event.credentialRef) : undefined;
      if (!cred || cred.alumno_id !== event.alumnoId || cred.email_task_id !== event.taskId) {
        deps.logger.warn(
          { alumnoId: event.alumnoId, taskId: event.taskId },
          'email_enviado for a credential that is not this alumno’s or not bound to that e-mail task; ignored',
        );
        return;
      }
      const enviadoEn = event.enviadoEn ? timestampDate(event.enviadoEn) : deps.clock();
      const cuenta = await markEmailEnviado(deps.knex, event.alumnoId, enviadoEn, deps.clock());
      if (!cuenta) return; // deleted since: nothing to show
      const tiene = (await deps.vault.current(cuenta.alumno_id)) !== undefined;
      const out = create(CuentaActualizadaSchema, {
        cuenta: cuentaToPb(cuenta, tiene),
        taskId: event.taskId,
        occurredAt: timestampFromDate(deps.clock()),
      });
      // The e-mail Tarea's headers, as the notifier sent them.
      const h = taskHeaders(
        {
          taskId: event.taskId,
          taskType: header(msg.headers, H.taskType) ?? 'alumnos.tasks.enviar_email_credenciales',
          requestedBy: header(msg.headers, H.requestedBy) ?? 'notifier',
          trigger: parseTrigger(header(msg.headers, H.trigger)),
          traceparent: header(msg.headers, H.traceparent) ?? newTraceparent(),
        },
        CONTENT_TYPE.protobuf,
      );
      await deps.nats.js.publish(
        deps.names.evt('cuenta', 'email_enviado'),
        encode(CuentaActualizadaSchema, out, CONTENT_TYPE.protobuf),
        { headers: h, msgID: `${event.taskId}:cuenta.email_enviado` },
      );
    },
  });
}
