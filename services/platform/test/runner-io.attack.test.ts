/**
 * Attacks on the consumer runner's JetStream I/O (runner-io.ts): one inbox subscription, request ids in the reply
 * subject, timeouts swept by one timer. Against the real NATS (a prefix of its own) and, for restarts, a nats-server
 * of this test's own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestNats, freePort, TEST_NATS_URL, waitFor, type TestNats } from '../../testkit/src/index.js';
import { EliminarCuentaExternaCommandSchema } from '@lucy/proto';
import {
  connectNats,
  createBatchPublisher,
  createCommandPublisher,
  createCommandWorker,
  createNames,
  provisionBuckets,
  provisionStreams,
} from '../src/index.js';
import { createRunnerIO } from '../src/runner-io.js';
import { testLogger } from '../../testkit/src/index.js';

const NATS_BIN = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const NATS_PORT = Number(new URL(TEST_NATS_URL.replace(/^nats:/, 'http:')).port || 4222);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const CAS_LOST = /wrong last sequence|key exists|10071/i;
const enc = (s: string) => new TextEncoder().encode(s);
const ack = (seq: number) => enc(JSON.stringify({ stream: 'FAKE', seq }));

/** Settles `p` into a value or its error, and how long it took. */
const settle = async <T>(p: Promise<T>) => {
  const t0 = Date.now();
  try {
    return { value: await p, ms: Date.now() - t0 };
  } catch (err) {
    return { error: err as Error, ms: Date.now() - t0 };
  }
};

describe('runner I/O against the shared NATS', () => {
  let t: TestNats;
  let nc: NatsConnection;
  const fake = () => `${t.prefix}.fake.${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    t = await createTestNats();
    nc = t.handles.nc;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('compare-and-set: a wrong last sequence is an error, never a success', async () => {
    const io = createRunnerIO(nc);
    const kv = t.buckets.cancellations;
    const key = `cas-${Date.now()}`;
    const r1 = await io.kvWrite(kv, key, 'uno', 0);
    expect(r1).toBeGreaterThan(0);
    await expect(io.kvWrite(kv, key, 'otro', 0)).rejects.toThrow(CAS_LOST);
    const r2 = await io.kvWrite(kv, key, 'dos', r1);
    expect(r2).toBeGreaterThan(r1);
    await expect(io.kvWrite(kv, key, 'tarde', r1)).rejects.toThrow(CAS_LOST);
    const got = await io.kvGet(kv, key);
    expect([got?.operation, got?.revision, got?.string()]).toEqual(['PUT', r2, 'dos']);
    // Deleted: read as a DEL marker, and "no record" (0) writes over it.
    await kv.delete(key);
    expect((await io.kvGet(kv, key))?.operation).toBe('DEL');
    const r3 = await io.kvWrite(kv, key, 'tres', 0);
    expect((await io.kvGet(kv, key))?.revision).toBe(r3);
    expect(await io.kvGet(kv, `${key}-none`)).toBeUndefined();
  });

  it('no stream for the subject (a headers-only 503): rejected at once, not after the timeout', async () => {
    const io = createRunnerIO(nc, 5_000);
    const r = await settle(io.publish(fake(), enc('x')));
    expect(r.error?.message).toMatch(/no responders/);
    expect(r.ms).toBeLessThan(2_000);
  });

  it('a reply arriving after its timeout was swept is not taken by a newer request', async () => {
    const subject = fake();
    let n = 0;
    const sub = nc.subscribe(subject, {
      callback: (_e, m) => {
        const i = n++;
        // The first request is answered late (after its timeout), the second at once: seq tells them apart.
        if (i === 0) setTimeout(() => m.respond(ack(111)), 900);
        else m.respond(ack(222));
      },
    });
    await nc.flush();
    const io = createRunnerIO(nc, 300);
    const first = settle(io.publish(subject, enc('a')));
    const firstR = await first;
    expect(firstR.error?.message).toMatch(/no answer from JetStream/);
    const second = await io.publish(subject, enc('b'));
    expect(second.seq).toBe(222);
    await new Promise((r) => setTimeout(r, 700)); // the late reply arrives and is dropped
    const third = await io.publish(subject, enc('c'));
    expect(third.seq).toBe(222);
    sub.unsubscribe();
  });

  it("two runners on one connection never get each other's replies", async () => {
    const subject = fake();
    const sub = nc.subscribe(subject, {
      callback: (_e, m) => {
        const seq = Number(new TextDecoder().decode(m.data));
        // Answers in reverse arrival order over a few ms, so replies interleave between the two runners.
        setTimeout(() => m.respond(ack(seq)), 20 - (seq % 20));
      },
    });
    await nc.flush();
    const a = createRunnerIO(nc);
    const b = createRunnerIO(nc);
    const calls = Array.from({ length: 400 }, (_, i) =>
      (i % 2 ? a : b).publish(subject, enc(String(i + 1))).then((x) => x.seq),
    );
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    sub.unsubscribe();
  });

  it('a server that does not answer: many requests time out together, and the next ones still work', async () => {
    const silent = fake();
    const sub = nc.subscribe(silent, { callback: () => undefined });
    await nc.flush();
    const io = createRunnerIO(nc, 400);
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 500 }, () => settle(io.publish(silent, enc('x')))),
    );
    expect(results.every((r) => /no answer/.test(r.error?.message ?? ''))).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2_000);
    sub.unsubscribe();
    const kv = t.buckets.cancellations;
    expect(await io.kvWrite(kv, `after-${Date.now()}`, 'v', 0)).toBeGreaterThan(0);
  });

  it('a burst of 10,000 acked publishes: every one stored once and answered', async () => {
    const io = createRunnerIO(nc, 30_000);
    const subject = t.names.evt('task', `burst${Date.now()}`);
    const acks = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => io.publish(subject, enc(String(i)))),
    );
    expect(new Set(acks.map((a) => a.seq)).size).toBe(10_000);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(t.names.streams.evt, { subjects_filter: subject });
    expect(info.state.subjects?.[subject]).toBe(10_000);
  }, 60_000);

  it('calls made in one turn of the event loop, each after its own awaits, share one socket write', async () => {
    const own = await connect({ servers: TEST_NATS_URL });
    try {
      const io = createRunnerIO(own);
      const subject = t.names.evt('task', `turn${Date.now()}`);
      await io.publish(subject, enc('warm-up')); // subscribes the inbox
      const writes: number[] = [];
      const original = Socket.prototype.write;
      Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
        if (this.remotePort === NATS_PORT) writes.push(1);
        return original.apply(this, args);
      } as Socket['write'];
      let acks: Array<{ seq: number }>;
      try {
        // As the runner's tasks do: each call comes after a different number of awaits (microtasks) in one turn.
        acks = await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            for (let k = 0; k < i; k++) await Promise.resolve();
            return io.publish(subject, enc(String(i)));
          }),
        );
      } finally {
        Socket.prototype.write = original;
      }
      expect(new Set(acks.map((a) => a.seq)).size).toBe(50);
      // Every socket write of the process to NATS, the test's own connection included; one per call before.
      expect(writes.length).toBeGreaterThanOrEqual(1);
      expect(writes.length).toBeLessThanOrEqual(3);
    } finally {
      await own.close();
    }
  });

  it('a call made just before the loop blocks longer than its timeout is answered, not timed out unsent', async () => {
    const io = createRunnerIO(nc, 1_000);
    const subject = t.names.evt('task', `blocked${Date.now()}`);
    await io.publish(subject, enc('warm-up'));
    let call!: ReturnType<typeof settle<{ seq: number }>>;
    await new Promise<void>((resolve) => {
      setTimeout(() => {
        call = settle(io.publish(subject, enc('x')));
      }, 10);
      setTimeout(() => {
        const end = Date.now() + 1_500; // a handler hogging the loop, in the same timers phase
        while (Date.now() < end) {
          /* blocked */
        }
        resolve();
      }, 10);
    });
    const r = await call;
    expect(r.error).toBeUndefined();
    expect(r.value?.seq).toBeGreaterThan(0);
  });

  it('the connection closed while requests wait: they fail promptly instead of waiting out the timeout', async () => {
    const own = await connect({ servers: TEST_NATS_URL });
    const silent = fake();
    const sub = nc.subscribe(silent, { callback: () => undefined });
    await nc.flush();
    const io = createRunnerIO(own, 60_000);
    const waiting = Array.from({ length: 20 }, () => settle(io.publish(silent, enc('x'))));
    await own.flush();
    await own.close();
    const results = await Promise.race([
      Promise.all(waiting),
      new Promise<'hung'>((r) => setTimeout(() => r('hung'), 3_000)),
    ]);
    expect(results).not.toBe('hung');
    if (results !== 'hung') for (const r of results) expect(r.error).toBeInstanceOf(Error);
    // And a call after the close fails at once too.
    const late = await settle(io.publish(silent, enc('y')));
    expect(late.error).toBeInstanceOf(Error);
    expect(late.ms).toBeLessThan(1_000);
    sub.unsubscribe();
  });
});

describe('the batch publisher against the shared NATS', () => {
  let t: TestNats;
  beforeAll(async () => {
    t = await createTestNats();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('the connection closed while publications wait: they fail promptly instead of after the timeout', async () => {
    const own = await connect({ servers: TEST_NATS_URL });
    const silent = `${t.prefix}.silent.${Date.now()}`;
    const sub = t.handles.nc.subscribe(silent, { callback: () => undefined });
    await t.handles.nc.flush();
    const publisher = createBatchPublisher(own);
    const message = { subject: silent, data: enc('x'), headers: natsHeaders() };
    const waiting = settle(publisher.publishAll([message, message, message], 60_000));
    await own.flush();
    await own.close();
    const result = await waiting;
    expect(result.ms).toBeLessThan(3_000);
    expect(result.value).toHaveLength(3);
    for (const r of result.value ?? []) expect(r).toBeInstanceOf(Error);
    // And one after the close fails at once too.
    const late = await settle(publisher.publishAll([message], 60_000));
    expect(late.ms).toBeLessThan(1_000);
    expect(late.value?.[0]).toBeInstanceOf(Error);
    sub.unsubscribe();
  });
});

describe('runner I/O across a NATS restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lucy-nats-io-'));
  let port = 0;
  let server: ChildProcess | undefined;
  let nc: NatsConnection;

  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
  const startServer = async () => {
    server = spawn(NATS_BIN, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
    await waitFor(listening, { what: 'nats-server listening' });
  };
  const stopServer = async () => {
    const s = server;
    if (!s || s.exitCode !== null) return;
    const exited = new Promise((r) => s.once('exit', r));
    s.kill('SIGTERM');
    await exited;
  };

  beforeAll(async () => {
    port = await freePort();
    await startServer();
    nc = await connect({
      servers: `nats://127.0.0.1:${port}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'IO', subjects: ['io.>'] });
    await new Kvm(nc).create('IOKV', { history: 1 });
  }, 30_000);
  afterAll(async () => {
    await nc?.close();
    await stopServer();
    rmSync(dir, { recursive: true, force: true });
  });

  it('requests during the outage fail within their timeout; after it the same I/O works again', async () => {
    const io = createRunnerIO(nc, 1_000);
    const kv = await new Kvm(nc).open('IOKV');
    const r1 = await io.kvWrite(kv, 'k', 'uno', 0);
    expect((await io.publish('io.a', enc('1'))).seq).toBe(1);

    await stopServer();
    const during = await settle(io.publish('io.a', enc('2')));
    expect(during.error).toBeInstanceOf(Error);
    expect(during.ms).toBeLessThan(3_000);

    await startServer();
    await waitFor(
      async () => {
        const r = await settle(io.kvGet(kv, 'k'));
        return r.value?.revision === r1;
      },
      { what: 'the runner I/O answered after the restart', timeoutMs: 20_000 },
    );
    // A compare-and-set over the record read before the outage still works and still checks.
    const r2 = await io.kvWrite(kv, 'k', 'dos', r1);
    expect(r2).toBeGreaterThan(r1);
    await expect(io.kvWrite(kv, 'k', 'tres', r1)).rejects.toThrow(CAS_LOST);
    expect((await io.publish('io.a', enc('3'))).seq).toBeGreaterThan(1);
  }, 60_000);

  it('a frozen server (connected, answering nothing): a worker stop() with its I/O pending still returns', async () => {
    const names = createNames('frozen');
    const handles = await connectNats({ NATS_URL: `nats://127.0.0.1:${port}` }, testLogger(), 'frozen');
    await provisionStreams(handles.jsm, names);
    await provisionBuckets(handles.kvm, names);
    const subject = 'lucy.cmd.identity.eliminar_cuenta_externa';
    let entered!: () => void;
    const inHandler = new Promise<void>((r) => (entered = r));
    const worker = createCommandWorker({
      js: handles.js,
      jsm: handles.jsm,
      names,
      logger: testLogger(),
      durable: 'frozen_eliminar',
      subject,
      taskType: 'alumnos.tasks.eliminar_cuenta_externa',
      schema: EliminarCuentaExternaCommandSchema,
      worker: 'test/frozen',
      drainTimeoutMs: 300,
      handle: async ({ signal }) => {
        entered();
        await new Promise((r) => signal.addEventListener('abort', r));
        throw new Error('stopped');
      },
    });
    await worker.start();
    await createCommandPublisher(handles.js, names).publish(
      subject,
      EliminarCuentaExternaCommandSchema,
      { alumnoId: '0190a1b2-0000-7000-8000-000000000001', upn: 'x@y' },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'test', trigger: 'admin' },
    );
    await inHandler;
    server!.kill('SIGSTOP');
    try {
      const r = await Promise.race([
        settle(worker.stop()),
        new Promise<'hung'>((res) => setTimeout(() => res('hung'), 25_000)),
      ]);
      expect(r).not.toBe('hung');
    } finally {
      server!.kill('SIGCONT');
    }
    await handles.nc.close();
  }, 60_000);
});

describe('runner I/O as a service user of deploy/nats/lucy-auth.conf (replies on its own inbox prefix)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lucy-nats-io-auth-'));
  const passwords = {
    admin: `p${randomBytes(16).toString('hex')}`,
    svc: `p${randomBytes(16).toString('hex')}`,
  };
  let server: ChildProcess | undefined;
  let url = '';
  const conns: NatsConnection[] = [];
  const as = async (user: 'admin' | 'identity-teams') => {
    const nc = await connect({
      servers: url,
      user,
      pass: user === 'admin' ? passwords.admin : passwords.svc,
      ...(user === 'admin' ? {} : { inboxPrefix: '_INBOX_identity-teams' }),
    });
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    copyFileSync(join(ROOT, 'deploy', 'nats', 'lucy-auth.conf'), join(dir, 'lucy-auth.conf'));
    const env: Record<string, string> = {};
    for (const u of [
      'TASK_TRACKER',
      'SCHEDULER',
      'INGEST_SIAL',
      'IDENTITY_TEAMS',
      'NOTIFIER',
      'ADMIN',
      'SIS',
    ])
      env[`LUCY_NATS_${u}_PASSWORD`] = u === 'ADMIN' ? passwords.admin : passwords.svc;
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'server.conf'),
      `port: ${port}\nhost: 127.0.0.1\njetstream { store_dir: "${join(dir, 'js')}" }\ninclude ./lucy-auth.conf\n`,
    );
    server = spawn(NATS_BIN, ['-c', join(dir, 'server.conf')], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
    const admin = await waitFor(() => as('admin').catch(() => undefined), {
      what: 'nats-server with lucy-auth.conf',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const jsm = await jetstreamManager(admin);
    await jsm.streams.add({ name: 'LUCY_EVT', subjects: ['lucy.evt.>'] });
    await new Kvm(admin).create('LUCY_TASK_OUTCOMES', { history: 1 });
    await new Kvm(admin).create('LUCY_CANCELLATIONS', { history: 1 });
  }, 60_000);
  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    const s = server;
    if (s && s.exitCode === null) {
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('claims, compare-and-set failures, cancellation reads and event publishes all pass the permissions', async () => {
    const nc = await as('identity-teams');
    const io = createRunnerIO(nc, 3_000);
    // As provisionBuckets opens them (create, which opens an existing bucket): direct gets on.
    const outcomes = await new Kvm(nc).create('LUCY_TASK_OUTCOMES', { history: 1 });
    const cancellations = await new Kvm(nc).create('LUCY_CANCELLATIONS', { history: 1 });
    // Direct-get buckets: the runner's own requests are used, not the library's fallback.
    expect((cancellations as unknown as { direct: boolean }).direct).toBe(true);
    const r1 = await io.kvWrite(outcomes, 't1', 'running', 0);
    await expect(io.kvWrite(outcomes, 't1', 'other', 0)).rejects.toThrow(CAS_LOST);
    expect(await io.kvWrite(outcomes, 't1', 'succeeded', r1)).toBeGreaterThan(r1);
    expect(await io.kvGet(cancellations, 't1')).toBeUndefined();
    await (await new Kvm(await as('admin')).open('LUCY_CANCELLATIONS')).put('t1', 'por Ana');
    const c = await io.kvGet(cancellations, 't1');
    expect([c?.operation, c?.string()]).toEqual(['PUT', 'por Ana']);
    expect((await io.publish('lucy.evt.task.succeeded', enc('x'))).seq).toBeGreaterThan(0);
  }, 30_000);
});
