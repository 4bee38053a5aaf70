/**
 * The projection of identity-teams' account events (`lucy.evt.cuenta.*`) onto the alumno: `email_institucional`
 * (the UPN), `teams_procesado`, `moodle_procesado`, `email_procesado`. Each event carries the whole account
 * record, and the durable consumer takes them one at a time in stream order, so applying one is idempotent and a
 * redelivery never moves the alumno back. Ingestion never writes these columns, so a re-ingestion keeps them.
 */
import type { Knex } from '@mikro-orm/postgresql';
import {
  decode,
  DecodeError,
  ensureConsumer,
  errorMessage,
  H,
  header,
  isUuid,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import { CuentaActualizadaSchema } from '@lucy/proto';
import { alumnoTable } from '../db/alumno.repository.js';

/** A started projection. */
export interface CuentaProjection {
  start(): Promise<void>;
  stop(): Promise<void>;
}

const DURABLE = 'ingest-sial_cuentas';

/** Creates the projection consumer (not started). */
export function createCuentaProjection(deps: {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  logger: Logger;
}): CuentaProjection {
  const { nats, names } = deps;
  const log = deps.logger.child({ consumer: DURABLE });
  const stream = names.streams.evt;
  const stop = new AbortController();
  let current: { stop(): void } | undefined;
  let loop: Promise<void> | undefined;
  const ensure = () =>
    ensureConsumer(nats.jsm, stream, DURABLE, names.full('lucy.evt.cuenta.>'), {
      ackWaitMs: 30_000,
      maxAckPending: 1,
    });

  async function apply(data: Uint8Array, contentType: string | undefined, subject: string): Promise<void> {
    const event = decode(CuentaActualizadaSchema, data, contentType);
    const c = event.cuenta;
    if (!c || !isUuid(c.alumnoId)) return;
    const eliminada = subject.endsWith('.eliminada') || c.estado === 'eliminada';
    await alumnoTable(deps.knex)
      .where('id', c.alumnoId)
      .update(
        eliminada
          ? { email_institucional: null, teams_procesado: false, moodle_procesado: false }
          : {
              email_institucional: c.upn || null,
              teams_procesado: c.graphId !== '',
              moodle_procesado: c.moodleId > 0n,
              email_procesado: c.emailSolicitado,
            },
      );
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        await ensure();
        const consumer = await nats.js.consumers.get(stream, DURABLE);
        const messages = await consumer.consume({ max_messages: 1, expires: 30_000 });
        current = messages;
        failures = 0;
        for await (const msg of messages) {
          if (stop.signal.aborted) break;
          try {
            await apply(msg.data, header(msg.headers, H.contentType), msg.subject);
            msg.ack();
          } catch (err) {
            if (err instanceof DecodeError) {
              log.warn({ err: err.message, seq: msg.seq }, 'undecodable account event dropped');
              msg.term();
            } else {
              log.warn({ err: errorMessage(err), seq: msg.seq }, 'account event failed; will retry');
              msg.nak(5000);
            }
          }
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        failures++;
        log.warn({ err: errorMessage(err), failures }, 'account projection loop failed; retrying');
      }
      if (!stop.signal.aborted)
        await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** failures, 10_000)));
    }
  }

  return {
    async start() {
      await ensure();
      loop = run();
    },
    async stop() {
      stop.abort();
      current?.stop();
      await Promise.race([loop, new Promise((r) => setTimeout(r, 5000).unref())]);
    },
  };
}
