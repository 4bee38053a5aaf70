/**
 * The projection of identity-teams' account events (`lucy.evt.cuenta.*`) onto the alumno: `email_institucional`
 * (the UPN), `teams_procesado`, `moodle_procesado`, `email_procesado` (the credentials e-mail accepted by the
 * relay). Each event carries the whole account record, and the durable consumer takes them one at a time in stream
 * order, so applying one is idempotent and a redelivery never moves the alumno back. Ingestion never writes these
 * columns, so a re-ingestion keeps them.
 */
import type { Knex } from '@mikro-orm/postgresql';
import {
  createEventConsumer,
  decode,
  H,
  header,
  isUuid,
  type EventConsumer,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import { CuentaActualizadaSchema } from '@lucy/proto';
import { alumnoTable } from '../db/alumno.repository.js';

/** A started projection. */
export type CuentaProjection = EventConsumer;

/** Creates the projection consumer (not started); an undecodable event is dropped with a warning. */
export function createCuentaProjection(deps: {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  logger: Logger;
}): CuentaProjection {
  return createEventConsumer({
    nats: deps.nats,
    names: deps.names,
    logger: deps.logger,
    durable: 'ingest-sial_cuentas',
    subject: 'lucy.evt.cuenta.>',
    async handle(msg) {
      const event = decode(CuentaActualizadaSchema, msg.data, header(msg.headers, H.contentType));
      const c = event.cuenta;
      if (!c || !isUuid(c.alumnoId)) return;
      const eliminada = msg.subject.endsWith('.eliminada') || c.estado === 'eliminada';
      const email = eliminada ? null : c.upn || null;
      // An account adopted from pylucy is active before Lucy learns its Graph or Moodle id.
      const teams = !eliminada && (c.graphId !== '' || c.estado === 'activa');
      const moodle = !eliminada && (c.moodleId > 0n || c.moodleUsername !== '');
      // Sent, not merely requested (identity-teams learns it from the notifier's email_enviado). Never back to
      // false while the account lives: an older snapshot (the activation's, published after the e-mail went out)
      // may arrive after it.
      const emailProcesado = eliminada ? 'false' : 'email_procesado or ?';
      const emailArgs = eliminada ? [] : [c.emailEnviado];
      // Only a row that changes is written: an event that repeats what the alumno already says (a redelivery, the
      // accounts of an adoption whose alumnos came with the same flags) costs a read, not a row version and a
      // commit flushed to the WAL.
      await alumnoTable(deps.knex)
        .where('id', c.alumnoId)
        .andWhereRaw(
          `(email_institucional, teams_procesado, moodle_procesado, email_procesado) is distinct from ` +
            `(?::text, ?::boolean, ?::boolean, ${emailProcesado})`,
          [email, teams, moodle, ...emailArgs],
        )
        .update({
          email_institucional: email,
          teams_procesado: teams,
          moodle_procesado: moodle,
          email_procesado: eliminada ? false : deps.knex.raw('email_procesado or ?', [c.emailEnviado]),
        });
    },
  });
}
