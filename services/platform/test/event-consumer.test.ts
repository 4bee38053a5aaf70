/**
 * The event consumer (event-consumer.ts) against the real NATS: stream order one event at a time, each handled
 * once, with handlers of varying speed — the pull asks for many events, the durable lets one be unacknowledged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNats, testLogger, waitFor, type TestNats } from '../../testkit/src/index.js';
import { createEventConsumer, PermanentError } from '../src/index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('event consumer', () => {
  let t: TestNats;
  beforeAll(async () => {
    t = await createTestNats();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('hands every event to the handler once, in stream order, one at a time, however slow each is', async () => {
    const subject = t.names.evt('cuenta', 'orden');
    const seen: number[] = [];
    let running = 0;
    let overlapped = false;
    const consumer = createEventConsumer({
      nats: t.handles,
      names: t.names,
      logger: testLogger('event-consumer'),
      durable: 'test_orden',
      subject: 'lucy.evt.cuenta.orden',
      async handle(msg) {
        running++;
        if (running > 1) overlapped = true;
        const n = Number(new TextDecoder().decode(msg.data));
        // Some slow, most immediate: a faster later event must still wait for the earlier one.
        if (n % 17 === 0) await sleep(15);
        else if (n % 5 === 0) await Promise.resolve();
        seen.push(n);
        running--;
      },
    });
    await consumer.start();
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => t.handles.js.publish(subject, enc(String(i)))));
      // Published concurrently: the stream's order is the reference, not the loop's.
      const stored: number[] = [];
      const info = await t.handles.jsm.streams.info(t.names.streams.evt);
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await t.handles.jsm.streams.getMessage(t.names.streams.evt, { seq }).catch(() => undefined);
        if (m?.subject === subject) stored.push(Number(new TextDecoder().decode(m.data)));
      }
      await waitFor(() => seen.length >= 300, { what: '300 events handled', timeoutMs: 30_000 });
      await sleep(200);
      expect(seen).toEqual(stored);
      expect(overlapped).toBe(false);
    } finally {
      await consumer.stop();
    }
  });

  it('an event whose handler fails for a while is retried, and nothing after it is handled before it', async () => {
    const subject = t.names.evt('cuenta', 'reintento');
    const seen: string[] = [];
    let failures = 0;
    const consumer = createEventConsumer({
      nats: t.handles,
      names: t.names,
      logger: testLogger('event-consumer'),
      durable: 'test_reintento',
      subject: 'lucy.evt.cuenta.reintento',
      retryMs: 300,
      handle(msg) {
        const s = new TextDecoder().decode(msg.data);
        if (s === 'b' && failures < 2) {
          failures++;
          throw new Error('la base no responde');
        }
        seen.push(s);
        return Promise.resolve();
      },
    });
    await consumer.start();
    try {
      for (const s of ['a', 'b', 'c', 'd']) await t.handles.js.publish(subject, enc(s));
      await waitFor(() => seen.length >= 4, { what: 'four events', timeoutMs: 15_000 });
      expect(seen).toEqual(['a', 'b', 'c', 'd']);
    } finally {
      await consumer.stop();
    }
  });

  it('two replicas, a handler slower than the ack wait: its event is not redelivered meanwhile, order holds', async () => {
    const subject = t.names.evt('cuenta', 'lento');
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const replica = (name: string) =>
      createEventConsumer({
        nats: t.handles,
        names: t.names,
        logger: testLogger(`event-consumer-${name}`),
        durable: 'test_lento',
        subject: 'lucy.evt.cuenta.lento',
        ackWaitMs: 1_000,
        async handle(msg) {
          const n = new TextDecoder().decode(msg.data);
          running++;
          most = Math.max(most, running);
          log.push(`${name}:${n}`);
          if (n === '0') await sleep(3_500); // three and a half ack waits
          running--;
        },
      });
    const a = replica('A');
    const b = replica('B');
    await a.start();
    await b.start();
    try {
      for (const n of ['0', '1', '2']) await t.handles.js.publish(subject, enc(n));
      await waitFor(() => log.length >= 3, { what: 'three events', timeoutMs: 15_000 });
      await sleep(1_500); // a redelivery of 0 would come within an ack wait
      expect(log.map((l) => l.split(':')[1])).toEqual(['0', '1', '2']);
      expect(most).toBe(1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('an event the handler refuses for good is dropped and the next ones still come', async () => {
    const subject = t.names.evt('cuenta', 'rechazo');
    const seen: string[] = [];
    const consumer = createEventConsumer({
      nats: t.handles,
      names: t.names,
      logger: testLogger('event-consumer'),
      durable: 'test_rechazo',
      subject: 'lucy.evt.cuenta.rechazo',
      handle(msg) {
        const s = new TextDecoder().decode(msg.data);
        if (s === 'malo') throw new PermanentError('no sirve');
        seen.push(s);
        return Promise.resolve();
      },
    });
    await consumer.start();
    try {
      for (const s of ['a', 'malo', 'b', 'c']) await t.handles.js.publish(subject, enc(s));
      await waitFor(() => seen.length >= 3, { what: 'three events', timeoutMs: 10_000 });
      expect(seen).toEqual(['a', 'b', 'c']);
    } finally {
      await consumer.stop();
    }
  });
});
