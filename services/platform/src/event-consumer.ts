/**
 * A durable pull consumer of one event subject (or wildcard) on LUCY_EVT, processed in stream order, one at a
 * time: acked after the handler, terminated (and logged) on a PermanentError or an undecodable event, nak'ed with
 * a delay on any other failure. The loop is re-created after server restarts or a deleted consumer; the durable's
 * acknowledged position is recorded (as the command runner's are), so a deleted durable restarts after it instead
 * of replaying the stream.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { DecodeError, errorMessage, PermanentError } from './errors.js';
import type { Logger } from './logger.js';
import type { Names } from './names.js';
import type { NatsHandles } from './nats.js';
import { ensureConsumer, openRunnerBuckets, recordConsumerPosition } from './worker.js';

/** A started (or startable) event consumer. */
export interface EventConsumer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link createEventConsumer}. */
export interface EventConsumerOptions {
  nats: NatsHandles;
  names: Names;
  logger: Logger;
  /** Durable name; says who consumes what, e.g. `identity-teams_alumno_deleted`. */
  durable: string;
  /** Canonical subject, e.g. `lucy.evt.alumno.deleted` or `lucy.evt.cuenta.>`. */
  subject: string;
  handle(msg: JsMsg): Promise<void>;
  /** Delay before a failed event is redelivered; default 5 000 ms. */
  retryMs?: number;
  /**
   * The durable's ack wait; default 30 000 ms. A handler running longer keeps its event by telling the server it is
   * still working (every third of it), so the event is not redelivered — to this or another replica — meanwhile.
   */
  ackWaitMs?: number;
}

const POSITION_EVERY_MS = 1000;

/** Creates an event consumer (not started). */
export function createEventConsumer(options: EventConsumerOptions): EventConsumer {
  const { nats, names } = options;
  const log = options.logger.child({ consumer: options.durable });
  const stream = names.streams.evt;
  const ackWaitMs = options.ackWaitMs ?? 30_000;
  const stop = new AbortController();
  let loop: Promise<void> | undefined;
  let current: { stop(): void } | undefined;
  let positions: Awaited<ReturnType<typeof openRunnerBuckets>>['positions'] | undefined;
  let lastPosition = 0;
  const ensure = async () => {
    positions ??= (await openRunnerBuckets(nats.js, names)).positions;
    const start = await ensureConsumer(nats.jsm, stream, options.durable, names.full(options.subject), {
      ackWaitMs,
      maxAckPending: 1,
      positions,
    });
    if (start === 'recorded')
      log.warn('durable consumer was missing; re-created after its recorded position');
  };
  const recordPosition = async () => {
    if (!positions || Date.now() - lastPosition < POSITION_EVERY_MS) return;
    lastPosition = Date.now();
    await recordConsumerPosition(nats.jsm, positions, stream, options.durable).catch((err: unknown) =>
      log.debug({ err: errorMessage(err) }, 'could not record the position'),
    );
  };

  async function run(): Promise<void> {
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        await ensure();
        const consumer = await nats.js.consumers.get(stream, options.durable);
        // The durable lets one event be unacknowledged at a time (maxAckPending 1: stream order), so a pull that
        // asks for more is served one event after another's ack — without a new pull request per event.
        const messages = await consumer.consume({ max_messages: 64, expires: 30_000 });
        current = messages;
        failures = 0;
        for await (const msg of messages) {
          if (stop.signal.aborted) break;
          try {
            // A slow handler (a Postgres stall) must not see its event redelivered, to another replica above all:
            // two handlers would run at once and the older event's effect could land after newer ones.
            const working = setInterval(() => msg.working(), Math.max(200, Math.floor(ackWaitMs / 3)));
            try {
              await options.handle(msg);
            } finally {
              clearInterval(working);
            }
            // Not confirmed (no round trip per event): the next event comes only once the server has this ack;
            // a lost one redelivers this event after the ack wait, and handlers are idempotent.
            msg.ack();
            await recordPosition();
          } catch (err) {
            if (err instanceof PermanentError || err instanceof DecodeError) {
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
