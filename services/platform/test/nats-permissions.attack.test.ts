import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../testkit/src/index.js';

// deploy/nats/lucy-auth.conf attacked on a nats-server 2.9 of the test's own: a service user (one compromised
// service, e.g. the notifier) must not be able to destroy the commands, events or dead letters of every other one.

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const ROOT = join(import.meta.dirname, '..', '..', '..');
const SERVICES = ['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier'];
const USERS = [...SERVICES, 'admin', 'sis'];
const envName = (user: string) => `LUCY_NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
// nats-server reads an environment variable's value as a config token: a value starting with a digit is parsed as a
// number and the server refuses to start ("Expected a digit but got …"), so the passwords are a letter then hex.
const passwords = Object.fromEntries(USERS.map((u) => [u, `p${randomBytes(24).toString('hex')}`]));

let dir: string;
let server: ChildProcess;
let url: string;
const conns: NatsConnection[] = [];

async function as(user: string): Promise<NatsConnection> {
  // Each user on its own reply prefix (NATS_INBOX_PREFIX): services may subscribe to nothing else.
  const nc = await connect({
    servers: url,
    user,
    pass: passwords[user]!,
    timeout: 10_000,
    ...(user === 'admin' ? {} : { inboxPrefix: `_INBOX_${user}` }),
  });
  conns.push(nc);
  return nc;
}

async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'allowed';
  } catch (err) {
    return (err as Error).message;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-nats-attack-'));
  copyFileSync(join(ROOT, 'deploy', 'nats', 'lucy-auth.conf'), join(dir, 'lucy-auth.conf'));
  // A free port can be taken by a parallel test between its probe and the server's bind: the server then exits at
  // once, and the start is tried again on a fresh port (its stderr says why when every try fails).
  let admin: NatsConnection | undefined;
  let stderr = '';
  for (let attempt = 1; !admin && attempt <= 3; attempt++) {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'server.conf'),
      `port: ${port}\nhost: 127.0.0.1\njetstream { store_dir: "${join(dir, 'js')}" }\ninclude ./lucy-auth.conf\n`,
    );
    const child = spawn(NATS_SERVER, ['-c', join(dir, 'server.conf')], {
      env: { ...process.env, ...Object.fromEntries(USERS.map((u) => [envName(u), passwords[u]!])) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server = child;
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const up = await waitFor(
      async () => {
        if (child.exitCode !== null) return { nc: undefined }; // exited: try another port
        const nc = await as('admin').catch(() => undefined);
        return nc && { nc };
      },
      { what: 'nats-server with lucy-auth.conf', timeoutMs: 60_000, intervalMs: 200 },
    );
    admin = up.nc;
  }
  if (!admin) throw new Error(`nats-server with lucy-auth.conf did not start: ${stderr}`);
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name: 'LUCY_CMD', subjects: ['lucy.cmd.>'] });
  await jsm.streams.add({ name: 'LUCY_EVT', subjects: ['lucy.evt.>'] });
  await jsm.streams.add({ name: 'LUCY_DLQ', subjects: ['lucy.dlq.>'] });
  await jetstream(admin).publish('lucy.cmd.identity.eliminar_cuenta_externa', '{}');
  await jetstream(admin).publish('lucy.cmd.notify.enviar_email', '{}');
}, 60_000);

afterAll(async () => {
  for (const nc of conns) await nc.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('a service user of deploy/nats/lucy-auth.conf', () => {
  it.each(SERVICES)('%s cannot delete or purge a stream, or delete its messages', async (user) => {
    const jsm = await jetstreamManager(await as(user), { timeout: 5000 });
    expect(await refused(jsm.streams.delete('LUCY_CMD'))).toMatch(/Permissions Violation/);
    expect(await refused(jsm.streams.purge('LUCY_CMD'))).toMatch(/Permissions Violation/);
    expect(await refused(jsm.streams.deleteMessage('LUCY_CMD', 1))).toMatch(/Permissions Violation/);
    expect(await refused(jsm.streams.deleteMessage('LUCY_EVT', 1))).toMatch(/Permissions Violation/);
    const admin = await jetstreamManager(await as('admin'));
    expect((await admin.streams.info('LUCY_CMD')).state.messages).toBe(2);
  });

  it('lets the task-tracker delete a dead letter it re-drove', async () => {
    const nc = await as('task-tracker');
    const ack = await jetstream(nc).publish('lucy.dlq.identity.x', '{}');
    expect(await (await jetstreamManager(nc)).streams.deleteMessage('LUCY_DLQ', ack.seq, false)).toBe(true);
  });

  it('still provisions and uses its streams, buckets and consumers', async () => {
    const nc = await as('notifier');
    const jsm = await jetstreamManager(nc);
    // It may not update a stream: an update with tiny limits wipes it, a sealed stream never takes a message again.
    expect(
      await refused(
        jsm.streams.update('LUCY_EVT', { ...(await jsm.streams.info('LUCY_EVT')).config, max_age: 0 }),
      ),
    ).toMatch(/Permissions Violation/);
    // Its own durable with its own filter only (lucy-auth.conf names both in the allowed subject).
    expect(
      await refused(
        jsm.consumers.add('LUCY_CMD', {
          durable_name: 'notifier_enviar_email',
          filter_subject: 'lucy.cmd.identity.>',
          ack_policy: AckPolicy.Explicit,
        }),
      ),
    ).toMatch(/Permissions Violation/);
    await jsm.consumers.add('LUCY_CMD', {
      durable_name: 'notifier_enviar_email',
      filter_subject: 'lucy.cmd.notify.enviar_email',
      ack_policy: AckPolicy.Explicit,
    });
    const m = await (
      await jetstream(nc).consumers.get('LUCY_CMD', 'notifier_enviar_email')
    ).next({ expires: 5000 });
    expect(m?.subject).toBe('lucy.cmd.notify.enviar_email');
    m?.ack();
    const kv = await new Kvm(nc).create('LUCY_TASK_OUTCOMES', { history: 1 });
    await kv.put('t1', 'running');
    expect((await kv.get('t1'))?.string()).toBe('running');
    await kv.delete('t1');
    await kv.purge('t1');
    expect((await kv.get('t1'))?.operation).toBe('PURGE');
  });
});
