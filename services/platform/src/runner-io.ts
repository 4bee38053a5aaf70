/**
 * The consumer runner's JetStream I/O on its hot path: acked publishes (lifecycle events), compare-and-set writes
 * of the outcome record and reads of the cancellation bucket, all as requests whose replies come back to one
 * wildcard inbox subscription of the connection. `js.publish` and `kv.get` make a request each — a mux entry, a
 * timer, several promises and option objects per call — which was most of the worker's own CPU per task
 * (docs/benchmarks.md, "pipeline"); here a call is one map entry and one promise, timeouts are swept by one timer,
 * and the calls of one turn of the event loop reach the socket in one write. Same messages on the wire, same
 * server-side semantics (acks, `Nats-Expected-Last-Subject-Sequence`, direct get): the runner's guarantees do not
 * change, only what a call costs in the process.
 */
import type { KV } from '@nats-io/kv';
import {
  createInbox,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';
import { readAck, type StoredAck } from './batch-publisher.js';

/** A JetStream API error answered to a publish (wrong last sequence, no stream…), with its code. */
export class JetStreamPublishError extends Error {
  override readonly name = 'JetStreamPublishError';
}

/** The part of a KV entry the runner reads. */
export interface RunnerKvEntry {
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  readonly revision: number;
  string(): string;
}

/** See the module comment. */
export interface RunnerIO {
  /** An acked JetStream publish; rejects with the reason it was not stored. */
  publish(subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<StoredAck>;
  /**
   * Writes `value` under `key` only when the key's last revision is `previous` (0: no record yet); resolves with
   * the new revision, rejects with "wrong last sequence … (10071)" when another write came first.
   */
  kvWrite(kv: KV, key: string, value: string, previous: number): Promise<number>;
  /** The last entry of `key`, or undefined. */
  kvGet(kv: KV, key: string): Promise<RunnerKvEntry | undefined>;
}

/** What the runner needs of the KV implementation (@nats-io/kv's Bucket); absent members → the library's calls. */
interface BucketInternals {
  direct?: boolean;
  subjectForKey?: (key: string, edit?: boolean) => string;
  bucketName?: () => string;
  js?: { apiPrefix?: string };
}

const SWEEP_MS = 250;
const EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';

/** Creates the runner's I/O on a connection; `timeoutMs` bounds every call (default 5 000, as `js.publish`). */
export function createRunnerIO(nc: NatsConnection, timeoutMs = 5_000): RunnerIO {
  let inbox = '';
  let subscribed: { isClosed(): boolean } | undefined;
  let next = 0;
  const pending = new Map<number, { settle: (m: Msg | Error) => void; deadline: number }>();
  let sweeper: NodeJS.Timeout | undefined;

  const failAll = (err: Error) => {
    for (const [id, p] of pending) {
      pending.delete(id);
      p.settle(err);
    }
  };
  const sweep = () => {
    const now = Date.now();
    for (const [id, p] of pending) {
      if (p.deadline > now) continue;
      pending.delete(id);
      p.settle(new Error(`no answer from JetStream within ${timeoutMs} ms`));
    }
    if (pending.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const subscribe = () => {
    if (subscribed && !subscribed.isClosed()) return;
    // The connection's inbox prefix (NATS_INBOX_PREFIX): a service user may subscribe to its own replies only.
    inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err) {
          failAll(err);
          return;
        }
        const id = Number(msg.subject.slice(inbox.length + 1));
        const p = pending.get(id);
        if (!p) return; // timed out already
        pending.delete(id);
        p.settle(msg);
      },
    });
    subscribed = sub;
    // Closed (the connection closed or drained): no reply can come any more, so the calls waiting fail now, as the
    // library's requests do, instead of at their timeout — the sweeper is unref'd, and a shutdown awaiting one of
    // them could otherwise see the process end with the call never settled.
    void sub.closed.then((e) => {
      if (subscribed === sub) failAll(e instanceof Error ? e : new Error('the NATS connection closed'));
    });
  };
  // Calls made during one turn of the event loop, written at its end. The client flushes its buffer on the
  // microtask after the first command it queues, so each task's call — made after its own awaits — went out in a
  // write system call of its own (the claim of every task, in the pipeline benchmark: two thirds of the worker's
  // writes); handed to the client together, they share one.
  let outbox: Array<{ id: number; subject: string; data: Uint8Array; headers: MsgHdrs | undefined }> = [];
  const flushOutbox = () => {
    const calls = outbox;
    outbox = [];
    const deadline = Date.now() + timeoutMs;
    for (const c of calls) {
      const p = pending.get(c.id);
      if (!p) continue; // failed meanwhile (the connection closed)
      // The time allowed counts from the write: a loop blocked between the call and its write must not expire a
      // call that has not been sent yet (its answer would be read after the sweep).
      p.deadline = deadline;
      try {
        nc.publish(c.subject, c.data, {
          reply: `${inbox}.${c.id}`,
          ...(c.headers ? { headers: c.headers } : {}),
        });
      } catch (err) {
        pending.delete(c.id);
        p.settle(err instanceof Error ? err : new Error(String(err)));
      }
    }
  };
  const request = (subject: string, data: Uint8Array, headers?: MsgHdrs): Promise<Msg> =>
    new Promise<Msg>((resolve, reject) => {
      subscribe();
      const id = next++;
      pending.set(id, {
        settle: (m) => (m instanceof Error ? reject(m) : resolve(m)),
        // Set when written (flushOutbox): an unsent call never expires, whichever phase of the loop made it.
        deadline: Infinity,
      });
      if (!sweeper) {
        sweeper = setInterval(sweep, SWEEP_MS);
        sweeper.unref();
      }
      if (outbox.length === 0) setImmediate(flushOutbox);
      outbox.push({ id, subject, data, headers });
    });

  const publish: RunnerIO['publish'] = async (subject, data, headers) => {
    const ack = readAck({ subject }, await request(subject, data, headers));
    if (ack instanceof Error) throw new JetStreamPublishError(ack.message);
    return ack;
  };
  const internals = (kv: KV) => kv as unknown as BucketInternals;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  return {
    publish,
    async kvWrite(kv, key, value, previous) {
      const b = internals(kv);
      if (typeof b.subjectForKey !== 'function')
        return previous === 0 ? kv.create(key, value) : kv.update(key, value, previous);
      const h = natsHeaders();
      h.set(EXPECTED_LAST_SUBJECT_SEQ, String(previous));
      try {
        return (await publish(b.subjectForKey(key, true), encoder.encode(value), h)).seq;
      } catch (err) {
        // A create over a deleted or purged key (its marker is the last revision): the library's create handles it.
        if (previous === 0 && err instanceof JetStreamPublishError) return kv.create(key, value);
        throw err;
      }
    },
    async kvGet(kv, key) {
      const b = internals(kv);
      if (!b.direct || typeof b.subjectForKey !== 'function' || typeof b.bucketName !== 'function') {
        const e = await kv.get(key);
        return e ?? undefined;
      }
      const subject = b.subjectForKey(key);
      const api = b.js?.apiPrefix ?? '$JS.API';
      // The subject form the library uses (last by subject appended), which the service users' permissions name.
      const msg = await request(`${api}.DIRECT.GET.${b.bucketName()}.${subject}`, new Uint8Array(0));
      const h = msg.headers;
      if (h?.code === 404) return undefined;
      if (h && h.code >= 300) throw new Error(`direct get of ${subject}: ${h.code} ${h.description}`);
      if (h?.get('Nats-Subject') !== subject) return undefined;
      const op = h.get('KV-Operation');
      const data = msg.data;
      return {
        operation: op === 'DEL' || op === 'PURGE' ? op : 'PUT',
        revision: Number(h.get('Nats-Sequence')),
        string: () => decoder.decode(data),
      };
    },
  };
}
