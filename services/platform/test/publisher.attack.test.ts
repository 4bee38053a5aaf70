import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers } from '@nats-io/nats-core';
import { createTestNats, readStream, type TestNats } from '../../testkit/src/index.js';
import { CONTENT_TYPE, createCommandPublisher, H, type Published } from '../src/index.js';

const SUBJECT = 'lucy.cmd.ingest.ingestar';
const DELETE = 'lucy.cmd.identity.eliminar_cuenta_externa';

describe('command publisher attack: poisoned idempotency keys', () => {
  let t: TestNats;
  beforeAll(async () => {
    t = await createTestNats();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  const options = (msgId: string) => ({
    taskType: 'alumnos.tasks.eliminar_cuenta_externa',
    requestedBy: 'ingest-sial',
    trigger: 'ingest' as const,
    msgId,
  });
  const poison = async (msgId: string) => {
    const h = headers();
    h.set(H.msgId, msgId);
    return t.handles.js.publish(t.names.full(SUBJECT), new Uint8Array([1]), { headers: h });
  };
  const storedOn = async (subject: string, byte: number) =>
    (await readStream(t.handles, t.names.streams.cmd)).filter(
      (m) => m.subject === t.names.full(subject) && m.data[0] === byte,
    );

  it('two concurrent publishers of one command on a poisoned id store it once', async () => {
    await poison('conc:a1');
    const p1 = createCommandPublisher(t.handles.js, t.names);
    const p2 = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    const [a, [b]] = await Promise.all([
      p1.publishRaw(DELETE, new Uint8Array([10]), CONTENT_TYPE.protobuf, options('conc:a1')),
      p2.publishPrepared([
        p2.prepare(DELETE, new Uint8Array([10]), CONTENT_TYPE.protobuf, options('conc:a1')),
      ]),
    ]);
    expect(b).not.toBeInstanceOf(Error);
    expect([a.duplicate, (b as Published).duplicate].sort()).toEqual([false, true]);
    expect(await storedOn(DELETE, 10)).toHaveLength(1);
  });

  it('a burst of many poisoned ids stores each command exactly once, and a re-publication is a duplicate', async () => {
    const n = 200;
    await Promise.all(Array.from({ length: n }, (_, i) => poison(`burst-p:${i}`)));
    const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    const prep = () =>
      Array.from({ length: n }, (_, i) =>
        publisher.prepare(
          DELETE,
          new Uint8Array([11, i % 256]),
          CONTENT_TYPE.protobuf,
          options(`burst-p:${i}`),
        ),
      );
    const first = await publisher.publishPrepared(prep());
    expect(first.filter((r) => r instanceof Error)).toEqual([]);
    expect(first.every((r) => !(r as Published).duplicate)).toBe(true);
    const again = await publisher.publishPrepared(prep());
    expect(again.filter((r) => r instanceof Error)).toEqual([]);
    expect(again.every((r) => (r as Published).duplicate)).toBe(true);
    expect(await storedOn(DELETE, 11)).toHaveLength(n);
  });
});
