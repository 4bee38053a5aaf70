import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../testkit/src/index.js';

// deploy/nats/lucy-auth.conf attacked through what the subject-based permissions do not see: the consumer's
// configuration (its deliver subject, its filter in the body), ephemeral consumers, direct gets of stored
// messages, other users' inboxes. A compromised service or outside system must not reach beyond its grant.

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const ROOT = join(import.meta.dirname, '..', '..', '..');
const SERVICES = ['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier'];
const USERS = [...SERVICES, 'admin', 'sis'];
const envName = (user: string) => `LUCY_NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
const passwords = Object.fromEntries(USERS.map((u) => [u, `p${randomBytes(24).toString('hex')}`]));
const DELETE = 'lucy.cmd.identity.eliminar_cuenta_externa';

let dir: string;
let server: ChildProcess;
let url: string;
const conns: NatsConnection[] = [];

async function as(user: string): Promise<NatsConnection> {
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

async function _outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'allowed';
  } catch (err) {
    return (err as Error).message;
  }
}

/** How many messages a stream holds, as the admin sees it. */
async function count(stream: string, subject?: string): Promise<number> {
  const jsm = await jetstreamManager(await as('admin'));
  const info = await jsm.streams.info(stream, subject ? { subjects_filter: subject } : undefined);
  return subject ? (info.state.subjects?.[subject] ?? 0) : info.state.messages;
}

/** A raw JetStream API request: the answer's error (or 'ok'), or the transport's refusal. */
async function api(nc: NatsConnection, subject: string, body: unknown): Promise<string> {
  try {
    const m = await nc.request(subject, JSON.stringify(body), { timeout: 3000 });
    const r = m.json<{ error?: { description: string } }>();
    return r.error ? `error: ${r.error.description}` : 'ok';
  } catch (err) {
    return (err as Error).message;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-nats-bypass-'));
  copyFileSync(join(ROOT, 'deploy', 'nats', 'lucy-auth.conf'), join(dir, 'lucy-auth.conf'));
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
        if (child.exitCode !== null) return { nc: undefined };
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
  await jetstream(admin).publish(DELETE, '{"secret":"identity"}');
  await jetstream(admin).publish('lucy.evt.cuenta.creada', '{}');
  await new Kvm(admin).create('LUCY_LEASES', { history: 1 });
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

describe('deploy/nats/lucy-auth.conf against what subjects do not show', () => {
  it.each(SERVICES)(
    '%s cannot have the server store a KV value of its own as a command it may not publish',
    async (user) => {
      const nc = await as(user);
      const before = await count('LUCY_CMD', DELETE);
      // A value the service may write, with the headers of a command from a staff member...
      const h = headers();
      h.set('Lucy-Requested-By', 'rector@uni.edu.ar');
      h.set('Lucy-Task-Id', `forged-${user}`);
      nc.publish(`$KV.LUCY_LEASES.forged-${user}`, '{"upn":"victima@uni.edu.ar"}', { headers: h });
      await nc.flush();
      // ...then a push consumer on the bucket whose deliver subject is the deletion command: the server itself
      // publishes the value there (a consumer's deliveries are not checked against its creator's permissions; the
      // consumer is created), but LUCY_CMD does not store a consumer's delivery, so no worker ever reads it.
      const r = await api(
        nc,
        `$JS.API.CONSUMER.CREATE.KV_LUCY_LEASES.x${user.replace(/-/g, '')}.$KV.LUCY_LEASES.forged-${user}`,
        {
          stream_name: 'KV_LUCY_LEASES',
          config: {
            name: `x${user.replace(/-/g, '')}`,
            deliver_subject: DELETE,
            filter_subject: `$KV.LUCY_LEASES.forged-${user}`,
            ack_policy: 'none',
            deliver_policy: 'all',
          },
        },
      );
      await new Promise((r) => setTimeout(r, 500));
      expect({ r, stored: (await count('LUCY_CMD', DELETE)) - before }).toMatchObject({ stored: 0 });
    },
  );

  it('does not let a service forge an alumno event to an outside system through a KV push consumer', async () => {
    const nc = await as('notifier');
    const h = headers();
    h.set('Lucy-Requested-By', 'rector@uni.edu.ar');
    nc.publish('$KV.LUCY_LEASES.forged-evt', '{"alumno":{"id":"victima"},"eliminarCuentasExternas":true}', {
      headers: h,
    });
    await nc.flush();
    const r = await api(nc, '$JS.API.CONSUMER.CREATE.KV_LUCY_LEASES.xevt.$KV.LUCY_LEASES.forged-evt', {
      stream_name: 'KV_LUCY_LEASES',
      config: {
        name: 'xevt',
        deliver_subject: 'lucy.evt.alumno.deleted',
        filter_subject: '$KV.LUCY_LEASES.forged-evt',
        ack_policy: 'none',
        deliver_policy: 'all',
      },
    });
    // Subscribed after the consumer exists too (a reconnecting subscriber): nothing forged arrives either.
    const sis = await as('sis');
    const got: string[] = [];
    sis.subscribe('lucy.evt.alumno.>', { callback: (_e, m) => void got.push(m.string()) });
    await sis.flush();
    await new Promise((res) => setTimeout(res, 3000));
    expect({ r, got, stored: await count('LUCY_EVT', 'lucy.evt.alumno.deleted') }).toEqual({
      r,
      got: [],
      stored: 0,
    });
  });

  it.each(SERVICES)('%s cannot wipe or seal a stream or bucket by updating its limits', async (user) => {
    const admin = await jetstreamManager(await as('admin'));
    await jetstream(await as('admin')).publish('lucy.cmd.notify.keep', '{}');
    await jetstream(await as('admin')).publish('lucy.cmd.notify.keep', '{}');
    const before = await count('LUCY_CMD');
    const jsm = await jetstreamManager(await as(user), { timeout: 3000 });
    const cfg = (await admin.streams.info('LUCY_CMD')).config;
    const tries = [
      { ...cfg, max_msgs: 1 },
      { ...cfg, max_bytes: 1 },
      { ...cfg, max_msgs_per_subject: 1 },
      { ...cfg, sealed: true },
      { ...cfg, subjects: ['lucy.cmd.nothing'] },
    ];
    const results = [];
    for (const t of tries) results.push(await _outcome(jsm.streams.update('LUCY_CMD', t)));
    const kvCfg = (await admin.streams.info('KV_LUCY_LEASES')).config;
    results.push(await _outcome(jsm.streams.update('KV_LUCY_LEASES', { ...kvCfg, max_msgs: 1 })));
    const after = await admin.streams.info('LUCY_CMD');
    expect({
      results,
      messages: after.state.messages,
      sealed: after.config.sealed,
      subjects: after.config.subjects,
    }).toEqual({
      results,
      messages: before,
      sealed: false,
      subjects: ['lucy.cmd.>'],
    });
    for (const r of results) expect(r).toMatch(/Permissions Violation/);
  });

  it('lets no service wipe a stream by a rollup header or by re-creating it with other limits', async () => {
    await jetstream(await as('admin')).publish('lucy.cmd.notify.keep2', '{}');
    const before = await count('LUCY_CMD');
    const nc = await as('task-tracker'); // may publish any command
    const h = headers();
    h.set('Nats-Rollup', 'all');
    expect(await _outcome(jetstream(nc).publish('lucy.cmd.notify.keep2', '{}', { headers: h }))).toMatch(
      /rollup/i,
    );
    const jsm = await jetstreamManager(await as('notifier'), { timeout: 3000 });
    const cfg = (await (await jetstreamManager(await as('admin'))).streams.info('LUCY_CMD')).config;
    expect(await _outcome(jsm.streams.add({ ...cfg, max_msgs: 1 }))).toMatch(/already in use/);
    expect(await count('LUCY_CMD')).toBe(before);
  });

  it('refuses an outside system an ephemeral consumer, a direct or stored-message get, a purge or a wider inbox', async () => {
    const nc = await as('sis');
    const eph = { stream_name: 'LUCY_CMD', config: { ack_policy: 'none', deliver_policy: 'all' } };
    expect(await api(nc, '$JS.API.CONSUMER.CREATE.LUCY_CMD', eph)).toMatch(/Permissions Violation/);
    expect(await api(nc, '$JS.API.CONSUMER.CREATE.LUCY_EVT', { ...eph, stream_name: 'LUCY_EVT' })).toMatch(
      /Permissions Violation/,
    );
    expect(await api(nc, '$JS.API.CONSUMER.CREATE.LUCY_EVT.sis_alumnos.lucy.evt.>', eph)).toMatch(
      /Permissions Violation/,
    );
    expect(await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.LUCY_EVT.sis_alumnos', eph)).toMatch(
      /Permissions Violation/,
    );
    expect(await api(nc, '$JS.API.STREAM.MSG.GET.LUCY_CMD', { seq: 1 })).toMatch(/Permissions Violation/);
    expect(await api(nc, '$JS.API.DIRECT.GET.LUCY_CMD', { seq: 1 })).toMatch(/Permissions Violation/);
    expect(await api(nc, `$JS.API.DIRECT.GET.LUCY_CMD.${DELETE}`, {})).toMatch(/Permissions Violation/);
    expect(await api(nc, '$JS.API.STREAM.PURGE.LUCY_CMD', {})).toMatch(/Permissions Violation/);
    expect(await api(nc, '$JS.API.STREAM.DELETE.LUCY_EVT', {})).toMatch(/Permissions Violation/);
    expect(await api(nc, '$JS.API.STREAM.LIST', {})).toMatch(/Permissions Violation/);
    expect(await count('LUCY_CMD')).toBeGreaterThan(0);
  });

  it.each([...SERVICES, 'sis'])(
    "%s cannot subscribe to another user's inbox or to everything",
    async (user) => {
      const other = user === 'identity-teams' ? '_INBOX_notifier.>' : '_INBOX_identity-teams.>';
      for (const subject of ['>', '_INBOX.>', other, '*.>', '_INBOX_*.>', 'lucy.cmd.>', '$JS.ACK.>']) {
        const nc = await as(user);
        let error = '';
        nc.subscribe(subject, {
          callback: (err) => {
            error ||= err?.message ?? '';
          },
        });
        await nc.flush().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 400));
        expect(`${subject}: ${error}`).toMatch(/Permissions Violation/);
        await nc.close().catch(() => undefined);
      }
    },
  );

  it('refuses a service a consumer whose body names another durable or a wider filter than its subject', async () => {
    const nc = await as('notifier');
    const subject = '$JS.API.CONSUMER.CREATE.LUCY_CMD.notifier_enviar_email.lucy.cmd.notify.enviar_email';
    const cfg = { ack_policy: 'explicit', deliver_policy: 'all' };
    for (const config of [
      { ...cfg, durable_name: 'notifier_enviar_email', filter_subject: 'lucy.cmd.identity.>' },
      { ...cfg, durable_name: 'notifier_enviar_email', filter_subject: 'lucy.cmd.>' },
      { ...cfg, durable_name: 'notifier_enviar_email' },
      {
        ...cfg,
        durable_name: 'identity-teams_eliminar_cuenta_externa',
        filter_subject: 'lucy.cmd.notify.enviar_email',
      },
      {
        ...cfg,
        name: 'identity-teams_eliminar_cuenta_externa',
        filter_subject: 'lucy.cmd.notify.enviar_email',
      },
    ]) {
      const r = await api(nc, subject, { stream_name: 'LUCY_CMD', config });
      if (!('name' in config)) expect(`${JSON.stringify(config)}: ${r}`).toMatch(/error|Violation/);
    }
    // and nothing was created that reads the deletion commands
    const jsm = await jetstreamManager(await as('admin'));
    const names = [];
    for await (const c of jsm.consumers.list('LUCY_CMD')) names.push(`${c.name}:${c.config.filter_subject}`);
    expect(names).toEqual(['notifier_enviar_email:lucy.cmd.notify.enviar_email']);
  });
});
