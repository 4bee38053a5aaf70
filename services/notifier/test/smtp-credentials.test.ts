/**
 * The mailer when the SMTP credentials change (issue 13): the next e-mail signs in with the new ones through a new
 * pool, the e-mails already on the old pool finish there (none lost, none sent twice), and the old pool's
 * connections are closed once it has nothing left to send. A TCP proxy in front of the SMTP sink counts the open
 * connections.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSmtpSink, type SmtpSink } from '@lucy/fake-smtp';
import { PermanentError } from '@lucy/platform';
import { waitFor } from '@lucy/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpMailer, type Mailer, type SmtpCredentials } from '../src/adapters/index.js';
import { loadSmtpConfig } from '../src/config.js';

const open: { sinks: SmtpSink[]; mailers: Mailer[]; proxies: Server[]; sockets: Socket[] } = {
  sinks: [],
  mailers: [],
  proxies: [],
  sockets: [],
};
afterEach(async () => {
  for (const m of open.mailers.splice(0)) m.close();
  for (const s of open.sockets.splice(0)) s.destroy();
  await Promise.all(open.proxies.splice(0).map((p) => new Promise((r) => p.close(r))));
  await Promise.all(open.sinks.splice(0).map((s) => s.close()));
});

/** A TCP proxy to the sink that counts the client connections open now. */
async function proxyTo(sink: SmtpSink): Promise<{ port: number; openConnections: () => number }> {
  let count = 0;
  const server = createServer((client) => {
    count++;
    const upstream = connect(sink.port, sink.host);
    open.sockets.push(client, upstream);
    client.pipe(upstream).pipe(client);
    let counted = true;
    const done = () => {
      if (counted) count--;
      counted = false;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', done).on('error', done);
    upstream.on('close', done).on('error', done);
  });
  open.proxies.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no proxy address');
  return { port: address.port, openConnections: () => count };
}

function mailerThrough(port: number, credentials: () => SmtpCredentials | undefined): Mailer {
  const mailer = createSmtpMailer({
    config: loadSmtpConfig({
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(port),
      SMTP_CONNECTION_TIMEOUT_MS: '2000',
      SMTP_GREETING_TIMEOUT_MS: '2000',
      // Idle pooled connections would stay open this long: the old pool must be closed well before.
      SMTP_SOCKET_TIMEOUT_MS: '20000',
      SMTP_POOL: 'true',
      SMTP_MAX_CONNECTIONS: '1',
    }),
    credentials,
  });
  open.mailers.push(mailer);
  return mailer;
}

describe('SMTP credentials replaced while e-mails are in flight', () => {
  it('sends each e-mail once, the new ones with the new credentials, and closes the old pool', async () => {
    // Without `auth` the sink accepts any credentials and records who signed in.
    const sink = await createSmtpSink({ port: 0 });
    open.sinks.push(sink);
    const proxy = await proxyTo(sink);
    let credentials: SmtpCredentials = { user: 'usuario-a', password: 'clave-a', origin: 'despliegue' };
    const mailer = mailerThrough(proxy.port, () => credentials);
    // Slow end of DATA: the first e-mails are still on the old pool's connection when the credentials change.
    sink.setFaults({ latencyMs: 250 });

    const send = (i: number) =>
      mailer.send({ to: `alumno${i}@gmail.com`, subject: `e-mail ${i}`, text: `${i}` });
    const before = [1, 2, 3].map(send);
    await waitFor(async () => proxy.openConnections() === 1 || undefined, {
      what: 'the first pool connecting',
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    credentials = { user: 'usuario-b', password: 'clave-b', origin: 'personal' };
    const after = [4, 5, 6].map(send);
    const results = await Promise.all([...before, ...after]);

    expect(results.every((r) => r.accepted.length === 1)).toBe(true);
    const received = sink.messages();
    expect(received.map((m) => m.subject).sort()).toEqual(
      [1, 2, 3, 4, 5, 6].map((i) => `e-mail ${i}`).sort(),
    );
    const userOf = (i: number) => received.find((m) => m.subject === `e-mail ${i}`)?.authUser;
    expect([1, 2, 3].map(userOf)).toEqual(['usuario-a', 'usuario-a', 'usuario-a']);
    expect([4, 5, 6].map(userOf)).toEqual(['usuario-b', 'usuario-b', 'usuario-b']);

    // Only the new pool's connection stays open (idle, for the next e-mail).
    await waitFor(async () => proxy.openConnections() === 1 || undefined, {
      what: 'the old pool closing its connection',
      timeoutMs: 3_000,
      intervalMs: 20,
    });
    sink.clearFaults();
    await send(7);
    expect(sink.messages().at(-1)?.authUser).toBe('usuario-b');
    expect(proxy.openConnections()).toBe(1);
  });

  it("names where to fix rejected credentials: the Configuración for staff's, the variables for the deployment's", async () => {
    const sink = await createSmtpSink({ port: 0, auth: { user: 'lucy', password: 'correcta' } });
    open.sinks.push(sink);
    let credentials: SmtpCredentials = { user: 'lucy', password: 'mala', origin: 'personal' };
    const mailer = mailerThrough(sink.port, () => credentials);

    const personal = await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }).catch((e: unknown) => e);
    expect(personal).toBeInstanceOf(PermanentError);
    expect((personal as PermanentError).message).toContain('Configuración del admin');
    expect((personal as PermanentError).message).not.toContain('mala');

    credentials = { user: 'lucy', password: 'otra-mala', origin: 'despliegue' };
    const deployment = await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }).catch((e: unknown) => e);
    expect((deployment as PermanentError).message).toContain('SMTP_PASSWORD');

    credentials = { user: 'lucy', password: 'correcta', origin: 'personal' };
    await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' });
    expect(sink.messages().map((m) => m.authUser)).toEqual(['lucy']);
  });
});
