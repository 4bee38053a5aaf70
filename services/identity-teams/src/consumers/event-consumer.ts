/**
 * A durable pull consumer of one event subject on LUCY_EVT, processed in order (one at a time): acked after the
 * handler, terminated (and logged) on a PermanentError such as an undecodable event, nak'ed with a delay on any
 * other failure. The loop is re-created after server restarts or a deleted consumer.
 */
import type { JsMsg } from '@nats-io/jetstream';
import {
  ensureConsumer,
  errorMessage,
  PermanentError,
  type Logger,
  type Names,
  type NatsHandles,
} from '@lucy/platform';

export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createEventConsumer(options: {
  nats: NatsHandles;
  names: Names;
  logger: Logger;
  durable: string;
  /** Canonical subject, e.g. `lucy.evt.alumno.deleted`. */
  subject: string;
  handle(msg: JsMsg): Promise<void>;
  retryMs?: number;
}): EventConsumer {
  const { nats, names } = options;
  const log = options.logger.child({ consumer: options.durable });
  const stream = names.streams.evt;
  const stop = new AbortController();
  let loop: Promise<void> | undefined;
  let current: { stop(): void } | undefined;
  const ensure = () =>
    ensureConsumer(nats.jsm, stream, options.durable, names.full(options.subject), {
      ackWaitMs: 30_000,
      maxAckPending: 1,
    });

  async function run(): Promise<void> {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        await ensure();
        const consumer = await nats.js.consumers.get(stream, options.durable);
        const messages = await consumer.consume({ max_messages: 1, expires: 30_000 });
        current = messages;
        failures = 0;
        for await (const msg of messages) {
          if (stop.signal.aborted) break;
          try {
            await options.handle(msg);
            msg.ack();
          } catch (err) {
            if (err instanceof PermanentError) {
              log.warn({ err: errorMessage(err), seq: msg.seq }, 'event dropped');
              msg.term();
            } else {
              log.warn({ err: errorMessage(err), seq: msg.seq }, 'event failed; will retry');
              msg.nak(options.retryMs ?? 5000);
            }
          }
        }
      } catch (err) {
        if (stop.signal.aborted) break;
        failures++;
        log.warn({ err: errorMessage(err), failures }, 'event consume loop failed; retrying');
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
