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
      await alumnoTable(deps.knex)
        .where('id', c.alumnoId)
        .update(
          eliminada
            ? {
                email_institucional: null,
                teams_procesado: false,
                moodle_procesado: false,
                email_procesado: false,
              }
            : {
                email_institucional: c.upn || null,
                // An account adopted from pylucy is active before Lucy learns its Graph or Moodle id.
                teams_procesado: c.graphId !== '' || c.estado === 'activa',
                moodle_procesado: c.moodleId > 0n || c.moodleUsername !== '',
                // Sent, not merely requested (identity-teams learns it from the notifier's email_enviado).
                // Never back to false while the account lives: an older snapshot (the activation's, published
                // after the e-mail went out) may arrive after it.
                email_procesado: deps.knex.raw('email_procesado or ?', [c.emailEnviado]),
              },
        );
    },
  });
}
