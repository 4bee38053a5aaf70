import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers } from '@nats-io/nats-core';
import { createTestNats, readStream, type TestNats } from '../../testkit/src/index.js';
import { CONTENT_TYPE, createCommandPublisher, H, type Published } from '../src/index.js';

const SUBJECT = 'lucy.cmd.ingest.ingestar';

describe('command publisher: prepared commands published as a burst', () => {
  let t: TestNats;

  beforeAll(async () => {
    t = await createTestNats();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  const prepareMany = (n: number, tag: string) => {
    const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    return {
      publisher,
      commands: Array.from({ length: n }, (_, i) =>
        publisher.prepare(SUBJECT, new Uint8Array([i % 256]), CONTENT_TYPE.protobuf, {
          taskType: 'alumnos.tasks.ingestar_aspirantes',
          requestedBy: 'scheduler',
          trigger: 'schedule',
          msgId: `${tag}-${i}`,
        }),
      ),
    };
  };

  it('stores every command once, in order, with its headers, and reports each sequence', async () => {
    const { publisher, commands } = prepareMany(2000, 'burst');
    const results = await publisher.publishPrepared(commands);
    expect(results.filter((r) => r instanceof Error)).toEqual([]);
    const acks = results as Published[];
    expect(acks.every((a, i) => i === 0 || a.seq > acks[i - 1]!.seq)).toBe(true);
    expect(acks.every((a, i) => a.taskId === commands[i]!.taskId && !a.duplicate)).toBe(true);

    const stored = await readStream(t.handles, t.names.streams.cmd);
    const burst = stored.filter((m) => m.header(H.msgId)?.startsWith('burst-'));
    expect(burst).toHaveLength(2000);
    const first = burst.find((m) => m.header(H.msgId) === 'burst-0')!;
    expect(first.header(H.taskId)).toBe(commands[0]!.taskId);
    expect(first.header(H.taskType)).toBe('alumnos.tasks.ingestar_aspirantes');
    expect(first.header(H.trigger)).toBe('schedule');
    expect(first.header(H.contentType)).toBe(CONTENT_TYPE.protobuf);
    expect(first.header(H.traceparent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('reports a republished idempotency key as a duplicate, not stored twice', async () => {
    const { publisher, commands } = prepareMany(50, 'again');
    await publisher.publishPrepared(commands);
    const before = (await t.handles.jsm.streams.info(t.names.streams.cmd)).state.messages;
    const results = await publisher.publishPrepared(commands);
    expect(results.every((r) => !(r instanceof Error) && r.duplicate)).toBe(true);
    expect((await t.handles.jsm.streams.info(t.names.streams.cmd)).state.messages).toBe(before);
  });

  it('fails, per command, what no stream stores, and still stores the others of the same burst', async () => {
    const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    const options = { taskType: 'x', requestedBy: 'test', trigger: 'admin' as const };
    const stored = publisher.prepare(SUBJECT, new Uint8Array(), CONTENT_TYPE.protobuf, options);
    const lost = publisher.prepare('nadie.escucha.aqui', new Uint8Array(), CONTENT_TYPE.protobuf, options);
    const [a, b] = await publisher.publishPrepared([stored, lost]);
    expect(a).not.toBeInstanceOf(Error);
    expect(b).toBeInstanceOf(Error);
    expect((b as Error).message).toContain('no JetStream stream stores');
  });

  it('without the connection, publishes prepared commands one request each, with the same results', async () => {
    const publisher = createCommandPublisher(t.handles.js, t.names);
    const commands = Array.from({ length: 20 }, (_, i) =>
      publisher.prepare(SUBJECT, new Uint8Array(), CONTENT_TYPE.protobuf, {
        taskType: 'x',
        requestedBy: 'test',
        trigger: 'admin',
        msgId: `plain-${i}`,
      }),
    );
    const results = await publisher.publishPrepared(commands);
    expect(results.every((r) => !(r instanceof Error) && !r.duplicate)).toBe(true);
  });
});

describe('command publisher: an idempotency key taken on another subject', () => {
  let t: TestNats;
  beforeAll(async () => {
    t = await createTestNats();
  });
  afterAll(async () => {
    await t.cleanup();
  });
  const DELETE = 'lucy.cmd.identity.eliminar_cuenta_externa';
  const options = (msgId: string) => ({
    taskType: 'alumnos.tasks.eliminar_cuenta_externa',
    requestedBy: 'ingest-sial',
    trigger: 'ingest' as const,
    msgId,
  });
  // What a system allowed to publish only ingestions can do: store a message under the id of another command.
  const poison = async (msgId: string) => {
    const h = headers();
    h.set(H.msgId, msgId);
    await t.handles.js.publish(t.names.full(SUBJECT), new Uint8Array([1]), { headers: h });
  };
  const storedOn = async (subject: string) =>
    (await readStream(t.handles, t.names.streams.cmd)).filter((m) => m.subject === t.names.full(subject));

  it('stores the command anyway (one request each), and a real re-publication is still a duplicate', async () => {
    await poison('alumno-deleted:a1');
    const publisher = createCommandPublisher(t.handles.js, t.names);
    const first = await publisher.publishRaw(
      DELETE,
      new Uint8Array([2]),
      CONTENT_TYPE.protobuf,
      options('alumno-deleted:a1'),
    );
    expect(first.duplicate).toBe(false);
    expect(await storedOn(DELETE)).toHaveLength(1);
    const again = await publisher.publishRaw(
      DELETE,
      new Uint8Array([2]),
      CONTENT_TYPE.protobuf,
      options('alumno-deleted:a1'),
    );
    expect(again.duplicate).toBe(true);
    expect(await storedOn(DELETE)).toHaveLength(1);
  });

  it('stores the command anyway in a burst, and under the next alternative id when the subject-bound one was taken too', async () => {
    await poison('alumno-deleted:a2');
    await poison(`alumno-deleted:a2@${t.names.full(DELETE)}`);
    const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    const [r] = await publisher.publishPrepared([
      publisher.prepare(DELETE, new Uint8Array([3]), CONTENT_TYPE.protobuf, options('alumno-deleted:a2')),
    ]);
    expect(r).not.toBeInstanceOf(Error);
    expect((r as Published).duplicate).toBe(false);
    const mine = (await storedOn(DELETE)).filter((m) => m.data[0] === 3);
    expect(mine).toHaveLength(1);
  });

  it('lands once however often it is published when two ids are taken, and is not dropped when the original is gone', async () => {
    await poison('dbl:a1');
    await poison(`dbl:a1@${t.names.full(DELETE)}`);
    const publisher = createCommandPublisher(t.handles.js, t.names);
    for (let i = 0; i < 3; i++)
      await publisher.publishRaw(DELETE, new Uint8Array([4]), CONTENT_TYPE.protobuf, options('dbl:a1'));
    expect((await storedOn(DELETE)).filter((m) => m.data[0] === 4)).toHaveLength(1);

    const h = headers();
    h.set(H.msgId, 'del:a1');
    const taken = await t.handles.js.publish(t.names.full(SUBJECT), new Uint8Array([1]), { headers: h });
    await t.handles.jsm.streams.deleteMessage(t.names.streams.cmd, taken.seq);
    await publisher.publishRaw(DELETE, new Uint8Array([5]), CONTENT_TYPE.protobuf, options('del:a1'));
    await publisher.publishRaw(DELETE, new Uint8Array([5]), CONTENT_TYPE.protobuf, options('del:a1'));
    expect((await storedOn(DELETE)).filter((m) => m.data[0] === 5)).toHaveLength(1);
  });
});

describe('command publisher: a burst on a closed connection', () => {
  it('reports an error for every command instead of throwing', async () => {
    const t = await createTestNats();
    const publisher = createCommandPublisher(t.handles.js, t.names, t.handles.nc);
    const commands = [1, 2, 3].map((i) =>
      publisher.prepare(SUBJECT, new Uint8Array(), CONTENT_TYPE.protobuf, {
        taskType: 'x',
        requestedBy: 'test',
        trigger: 'admin',
        msgId: `closed-${i}`,
      }),
    );
    await t.cleanup();
    const results = await publisher.publishPrepared(commands);
    expect(results).toHaveLength(3);
    expect(results.every((r) => r instanceof Error)).toBe(true);
  });
});
