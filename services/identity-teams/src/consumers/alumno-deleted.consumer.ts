/**
 * `lucy.evt.alumno.deleted` → `alumnos.tasks.eliminar_cuenta_externa`, unless the deletion asked to keep the
 * accounts. The command's id is derived from the alumno (`Nats-Msg-Id` `alumno-deleted:<id>`), so a redelivered
 * event starts no second Tarea; the deletion itself goes through the same guards as a staff request.
 */
import type { Knex } from '@mikro-orm/postgresql';
import {
  createEventConsumer,
  DecodeError,
  decode,
  H,
  header,
  PermanentError,
  type CommandPublisher,
  type EventConsumer,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import { AlumnoDeletedSchema, EliminarCuentaExternaCommandSchema } from '@lucy/proto';
import { getCuenta } from '../db/index.js';
import { IDENTITY_TASKS } from './identity.consumer.js';

/** Creates the consumer (not started). */
export function createAlumnoDeletedConsumer(deps: {
  nats: NatsHandles;
  names: Names;
  logger: Logger;
  knex: Knex;
  publisher: CommandPublisher;
}): EventConsumer {
  return createEventConsumer({
    nats: deps.nats,
    names: deps.names,
    logger: deps.logger,
    durable: 'identity-teams_alumno_deleted',
    subject: 'lucy.evt.alumno.deleted',
    async handle(msg) {
      let event;
      try {
        event = decode(AlumnoDeletedSchema, msg.data, header(msg.headers, H.contentType));
      } catch (err) {
        if (err instanceof DecodeError) throw new PermanentError(err.message, { cause: err });
        throw err;
      }
      const alumno = event.alumno;
      if (!alumno?.id || !event.eliminarCuentasExternas) return;
      const cuenta = await getCuenta(deps.knex, alumno.id);
      const upn = cuenta?.upn || alumno.emailInstitucional;
      if (!upn) {
        deps.logger.info({ alumnoId: alumno.id }, 'deleted alumno had no external account');
        return;
      }
      await deps.publisher.publish(
        IDENTITY_TASKS.eliminar.subject,
        EliminarCuentaExternaCommandSchema,
        {
          alumnoId: alumno.id,
          upn,
          moodleUsername: cuenta?.moodle_username ?? '',
          motivo: `Alumno eliminado por ${event.deletedBy || 'desconocido'}`,
        },
        {
          taskType: IDENTITY_TASKS.eliminar.task,
          requestedBy: event.deletedBy || 'identity-teams',
          trigger: 'external',
          msgId: `alumno-deleted:${alumno.id}`,
          ...(header(msg.headers, H.traceparent) ? { traceparent: header(msg.headers, H.traceparent)! } : {}),
        },
      );
    },
  });
}
