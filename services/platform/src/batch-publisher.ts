import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';

/** JetStream's answer to a publication (a PubAck or an API error). */
interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

/** One message to store in a stream: full (prefixed) subject, payload and headers (`Nats-Msg-Id` included). */
export interface OutboundMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
}

/** Where JetStream stored a message. */
export interface StoredAck {
  readonly stream: string;
  readonly seq: number;
  /** True when JetStream dropped it as a duplicate of the same `Nats-Msg-Id`. */
  readonly duplicate: boolean;
}

/**
 * Publishes many messages to JetStream at once: all written to the connection in one synchronous pass, their
 * acknowledgements collected on one inbox subscription — no request, timer, promise or captured stack per
 * message, which is what `js.publish` costs. Resolves, in order, each message's {@link StoredAck} or the Error
 * that kept it from being stored (a stream error, no stream for the subject, no acknowledgement within the
 * timeout, a closed connection); it never rejects. Callers retry failures with the same `Nats-Msg-Id`, which
 * JetStream de-duplicates. The scheduler's bursts and ingest-sial's alumno events go this way.
 */
export interface BatchPublisher {
  publishAll(messages: readonly OutboundMessage[], timeoutMs?: number): Promise<Array<StoredAck | Error>>;
}

/**
 * Creates a {@link BatchPublisher} on a connection: publications carry a reply subject `<inbox>.<n>`, and each
 * acknowledgement is routed back by its `n` through one wildcard subscription for the connection's lifetime
 * (re-subscribed by the client after a reconnect).
 */
export function createBatchPublisher(nc: NatsConnection): BatchPublisher {
  let inbox = '';
  let subscription: Subscription | undefined;
  let next = 0;
  const pending = new Map<number, (result: Msg | Error) => void>();

  const failAll = (err: Error) => {
    for (const [id, settle] of pending) {
      pending.delete(id);
      settle(err);
    }
  };
  const subscribe = () => {
    if (subscription && !subscription.isClosed()) return;
    // The connection's inbox prefix (NATS_INBOX_PREFIX): a service user may subscribe to its own replies only.
    inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          // The subscription is gone (permissions): every waiting publication fails.
          failAll(err);
          return;
        }
        const id = Number(msg.subject.slice(inbox.length + 1));
        const settle = pending.get(id);
        if (!settle) return; // Timed out already.
        pending.delete(id);
        settle(msg);
      },
    });
    subscription = sub;
    // Closed with the connection (closed or drained): no acknowledgement can come any more, so the publications
    // waiting fail now instead of at their timeout (10 s by default), as the runner's I/O does.
    void sub.closed.then((e) => {
      if (subscription === sub) failAll(e instanceof Error ? e : new Error('the NATS connection closed'));
    });
  };

  return {
    publishAll(messages, timeoutMs = 10_000) {
      if (messages.length === 0) return Promise.resolve([]);
      try {
        subscribe();
      } catch (err) {
        // The connection is closed or draining: nothing can be published now; every message reports it.
        const error = err instanceof Error ? err : new Error(String(err));
        return Promise.resolve(messages.map(() => error));
      }
      const results = new Array<StoredAck | Error>(messages.length);
      const ids: number[] = [];
      let open = messages.length;
      return new Promise<Array<StoredAck | Error>>((resolve) => {
        const timer = setTimeout(() => {
          for (const [index, id] of ids.entries()) {
            if (!pending.delete(id)) continue;
            results[index] = new Error(`no acknowledgement from JetStream within ${timeoutMs} ms`);
          }
          resolve(results);
        }, timeoutMs);
        const settled = () => {
          if (--open > 0) return;
          clearTimeout(timer);
          resolve(results);
        };
        for (const [index, message] of messages.entries()) {
          const id = next++;
          ids.push(id);
          pending.set(id, (answer) => {
            results[index] = answer instanceof Error ? answer : readAck(message, answer);
            settled();
          });
          try {
            nc.publish(message.subject, message.data, { headers: message.headers, reply: `${inbox}.${id}` });
          } catch (err) {
            pending.delete(id);
            results[index] = err instanceof Error ? err : new Error(String(err));
            settled();
          }
        }
      });
    },
  };
}

/**
 * Publishes `messages` in one pass and rejects with the first reason one was not stored, for callers that fail as a
 * whole (an import call, an ingestion page, an event announced after the work): their retry sends every message
 * again with the same `Nats-Msg-Id`, and JetStream drops the ones it had stored.
 */
export async function publishAllOrThrow(
  publisher: BatchPublisher,
  messages: readonly OutboundMessage[],
  timeoutMs?: number,
): Promise<StoredAck[]> {
  const results = await publisher.publishAll(messages, timeoutMs);
  const failure = results.find((r) => r instanceof Error);
  if (failure) throw failure;
  return results as StoredAck[];
}

/** Reads JetStream's answer to a publication of `message` (the runner's I/O reads its acks the same way). */
export function readAck(message: { readonly subject: string }, msg: Msg): StoredAck | Error {
  if (msg.headers?.code === 503)
    return new Error(`no JetStream stream stores ${message.subject} (no responders)`);
  let body: PubAckBody;
  try {
    body = msg.json<PubAckBody>();
  } catch {
    return new Error(`unreadable JetStream acknowledgement for ${message.subject}`);
  }
  if (body.error || typeof body.seq !== 'number')
    return new Error(
      `JetStream refused ${message.subject}: ${body.error?.description ?? 'no sequence in the acknowledgement'}` +
        (body.error?.err_code ? ` (${body.error.err_code})` : ''),
    );
  return { stream: body.stream ?? '', seq: body.seq, duplicate: body.duplicate === true };
}
