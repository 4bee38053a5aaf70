import { generateKeyPairSync } from 'node:crypto';
import { Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { createSmtpSink, type SmtpSink } from '@lucy/fake-smtp';
import { PermanentError, TransientError, type Logger } from '@lucy/platform';
import { captureLogger } from '@lucy/testkit';
import { TipoEmail } from '@lucy/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpMailer, type Mailer } from '../src/adapters/index.js';
import { wholeMessage } from '../src/adapters/smtp.mailer.js';
import { loadSmtpConfig, type SmtpConfig } from '../src/config.js';
import { buildEmail, VARIABLES_DE_EJEMPLO } from '../src/domain/index.js';

const SMTP_SECRET = 'smtp-Secreto-9931';
const TEMP_PASSWORD = 'Temporal-Xq7#zz';

const open: { sinks: SmtpSink[]; mailers: Mailer[] } = { sinks: [], mailers: [] };

afterEach(async () => {
  for (const mailer of open.mailers.splice(0)) mailer.close();
  await Promise.all(open.sinks.splice(0).map((s) => s.close()));
});

async function startSink(options: Parameters<typeof createSmtpSink>[0] = {}): Promise<SmtpSink> {
  const sink = await createSmtpSink({ port: 0, ...options });
  open.sinks.push(sink);
  return sink;
}

function configFor(sink: { host: string; port: number }, env: Record<string, string> = {}): SmtpConfig {
  return loadSmtpConfig({
    SMTP_HOST: sink.host,
    SMTP_PORT: String(sink.port),
    SMTP_FROM: 'Facultad de Ciencias Económicas - UNRC <no-reply@v.eco.unrc.edu.ar>',
    SMTP_CONNECTION_TIMEOUT_MS: '2000',
    SMTP_GREETING_TIMEOUT_MS: '2000',
    SMTP_SOCKET_TIMEOUT_MS: '5000',
    ...env,
  });
}

function mailerFor(config: SmtpConfig, logger?: Logger): Mailer {
  const mailer = createSmtpMailer({ config, logger });
  open.mailers.push(mailer);
  return mailer;
}

/** The error a promise rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('smtp mailer against the SMTP sink', () => {
  it('sends a plain-text e-mail from SMTP_FROM and returns the message id the relay received', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink));

    const result = await mailer.send({
      to: 'ana.perez@gmail.com',
      subject: 'Prueba',
      text: 'Hola Ana,\nesto es una prueba.',
    });

    const [message] = sink.messages();
    expect(message?.messageId).toBe(result.messageId);
    expect(result.messageId).toMatch(/^<.+@v\.eco\.unrc\.edu\.ar>$/);
    expect(result.accepted).toEqual(['ana.perez@gmail.com']);
    expect(result.rejected).toEqual([]);
    expect(result.response).toMatch(/^250 /);
    expect(message?.from).toEqual({
      name: 'Facultad de Ciencias Económicas - UNRC',
      address: 'no-reply@v.eco.unrc.edu.ar',
    });
    expect(message?.envelope).toEqual({ from: 'no-reply@v.eco.unrc.edu.ar', to: ['ana.perez@gmail.com'] });
    expect(message?.text?.trimEnd()).toBe('Hola Ana,\nesto es una prueba.');
    expect(message?.html).toBeNull();
    expect(message?.headers['auto-submitted']).toEqual(['auto-generated']);
  });

  it('signs with DKIM when a key is configured, and sets Reply-To and the given Message-ID', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const sink = await startSink();
    const mailer = mailerFor(
      configFor(sink, {
        SMTP_REPLY_TO: 'Soporte V.ECO <v.estudiantes@fce.unrc.edu.ar>',
        SMTP_DKIM_DOMAIN: 'v.eco.unrc.edu.ar',
        SMTP_DKIM_SELECTOR: 'lucy2026',
        SMTP_DKIM_PRIVATE_KEY: pem,
      }),
    );

    await mailer.send({
      to: 'ana@gmail.com',
      subject: 'Firmado',
      text: 'Hola',
      messageId: '<tarea-123@v.eco.unrc.edu.ar>',
    });

    const [message] = sink.messages();
    expect(message?.messageId).toBe('<tarea-123@v.eco.unrc.edu.ar>');
    expect(message?.replyTo).toEqual([{ name: 'Soporte V.ECO', address: 'v.estudiantes@fce.unrc.edu.ar' }]);
    const signature = message?.headers['dkim-signature']?.[0] ?? '';
    expect(signature).toMatch(/\bd=v\.eco\.unrc\.edu\.ar;/);
    expect(signature).toMatch(/\bs=lucy2026;/);
    // It covers the sender, subject and Message-ID and carries a signature of the key's size (1024-bit: 172
    // base64 characters). Verifying it needs the DNS record of the selector; that is the relay's side.
    expect(signature.replace(/\s+/g, '')).toMatch(/\bh=[^;]*From[^;]*;/i);
    expect(signature.replace(/\s+/g, '')).toMatch(/\bh=[^;]*Message-ID[^;]*;/i);
    expect(/\bb=([^;]+)$/.exec(signature.replace(/\s+/g, ''))?.[1]).toHaveLength(172);
  });

  it('honours a sender given per message over SMTP_FROM', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink));
    await mailer.send({
      to: 'a@b.com',
      subject: 'x',
      text: 'x',
      from: 'Ingreso FCE <ingreso@fce.unrc.edu.ar>',
    });
    expect(sink.messages()[0]?.from).toEqual({ name: 'Ingreso FCE', address: 'ingreso@fce.unrc.edu.ar' });
  });

  it('delivers a rendered credentials e-mail exactly as rendered: accented UTF-8 subject, HTML and text', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink));
    const email = buildEmail(
      TipoEmail.CREDENCIALES,
      { asunto: 'Contraseña de {nombre} {apellido} — acceso', cuerpo: '' },
      { ...VARIABLES_DE_EJEMPLO, password: TEMP_PASSWORD, apellido: 'Núñez <Ñandú>' },
    );

    await mailer.send({
      to: 'ana.perez@gmail.com',
      ...email,
      headers: { 'X-Lucy-Task-Id': 'task-123' },
    });

    const message = await sink.waitFor(() => true, 2_000);
    expect(message.subject).toBe('Contraseña de Ana María Núñez <Ñandú> — acceso');
    expect(email.subject).toBe(message.subject);
    // The header went out RFC 2047-encoded, not as raw 8-bit bytes.
    expect(message.headers.subject?.[0]).toMatch(/^=\?UTF-8\?[BQ]\?/i);
    expect(message.html?.trim()).toBe(email.html.trim());
    expect(message.text?.trim()).toBe(email.text.trim());
    expect(message.text).toContain(TEMP_PASSWORD);
    expect(message.html).toContain('Núñez &lt;Ñandú&gt;');
    expect(message.headers['content-type']?.[0]).toMatch(/^multipart\/alternative/);
    expect(message.headers['x-lucy-task-id']).toEqual(['task-123']);
  });

  it('writes a composed e-mail to the relay in a handful of socket writes, not one per MIME piece', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink));
    const email = buildEmail(TipoEmail.CREDENCIALES, undefined, {
      ...VARIABLES_DE_EJEMPLO,
      password: TEMP_PASSWORD,
    });
    const send = (to: string) => mailer.send({ to, ...email, headers: { 'X-Lucy-Task-Id': to } });
    await send('primera@gmail.com'); // opens and greets the pooled connection
    const writes: number[] = [];
    const original = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
      if (this.remotePort === sink.port) writes.push(1);
      return original.apply(this, args);
    } as Socket['write'];
    try {
      await send('segunda@gmail.com');
    } finally {
      Socket.prototype.write = original;
    }
    // MAIL FROM, RCPT TO and DATA (some pipelined), the message, the terminating dot. It was 13: nodemailer wrote
    // the headers, each boundary and each part as it produced them.
    expect(writes.length).toBeGreaterThanOrEqual(3);
    expect(writes.length).toBeLessThanOrEqual(6);
    const message = await sink.waitFor((m) => m.envelope.to.includes('segunda@gmail.com'), 2_000);
    expect(message.html?.trim()).toBe(email.html.trim());
    expect(message.text?.trim()).toBe(email.text.trim());
  });

  it('wholeMessage passes the stream on as one chunk, and its error', async () => {
    const chunks: Buffer[] = [];
    const out = wholeMessage(Readable.from([Buffer.from('a'), 'b', Buffer.from('c')]));
    for await (const c of out) chunks.push(c as Buffer);
    expect(chunks.map((c) => c.toString())).toEqual(['abc']);
    const failing = new PassThrough();
    const broken = wholeMessage(failing);
    failing.write('x');
    failing.destroy(new Error('roto'));
    await expect(
      (async () => {
        for await (const c of broken) void c;
      })(),
    ).rejects.toThrow('roto');
  });

  it('authenticates with SMTP_USER and SMTP_PASSWORD', async () => {
    const sink = await startSink({ auth: { user: 'lucy', password: SMTP_SECRET } });
    const mailer = mailerFor(configFor(sink, { SMTP_USER: 'lucy', SMTP_PASSWORD: SMTP_SECRET }));

    await mailer.verify();
    await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' });

    expect(sink.messages()[0]?.authUser).toBe('lucy');
  });

  it('reports a wrong SMTP password as a permanent configuration error in Spanish, without the password', async () => {
    const sink = await startSink({ auth: { user: 'lucy', password: SMTP_SECRET } });
    const mailer = mailerFor(configFor(sink, { SMTP_USER: 'lucy', SMTP_PASSWORD: 'equivocada-123' }));

    const err = await rejection(mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }));

    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('SMTP_AUTH');
    expect(err.message).toContain('rechazó las credenciales del usuario «lucy»');
    expect(err.message).toContain('535');
    expect(err.message).toContain('SMTP_PASSWORD');
    expect(err.message).not.toContain('equivocada-123');
    expect(sink.messages()).toHaveLength(0);
    const verifyErr = await rejection(mailer.verify());
    expect((verifyErr as PermanentError).code).toBe('SMTP_AUTH');
  });

  it('reports a server that requires AUTH when none is configured as a permanent error', async () => {
    const sink = await startSink({ auth: { user: 'lucy', password: SMTP_SECRET } });
    const mailer = mailerFor(configFor(sink));
    const err = await rejection(mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('SMTP_AUTH');
    expect(err.message).toContain('SMTP_USER');
  });

  it('classifies a 4xx reply as transient and a 5xx reply as permanent', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink));

    sink.setFaults({ rejectTemporary: 1 });
    const temporary = await rejection(mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }));
    expect(temporary).toBeInstanceOf(TransientError);
    expect((temporary as TransientError).code).toBe('SMTP_TEMPORARY');
    expect(temporary.message).toContain('451');

    sink.setFaults({ rejectPermanent: 1 });
    const permanent = await rejection(mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' }));
    expect(permanent).toBeInstanceOf(PermanentError);
    expect((permanent as PermanentError).code).toBe('SMTP_REJECTED');
    expect(permanent.message).toContain('554');

    // The faults were spent: the next message goes through on the same pooled transport.
    await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' });
    expect(sink.messages()).toHaveLength(1);
  });

  it('lists recipients the relay refused while delivering to the others', async () => {
    const sink = await startSink();
    sink.setFaults({ rejectRecipients: '^rebota' });
    const mailer = mailerFor(configFor(sink));

    const result = await mailer.send({ to: ['rebota@gmail.com', 'ana@gmail.com'], subject: 'x', text: 'x' });

    expect(result.accepted).toEqual(['ana@gmail.com']);
    expect(result.rejected).toEqual(['rebota@gmail.com']);
    expect(sink.messages()[0]?.envelope.to).toEqual(['ana@gmail.com']);
  });

  it('fails permanently when every recipient is refused', async () => {
    const sink = await startSink();
    sink.setFaults({ rejectRecipients: '^rebota' });
    const mailer = mailerFor(configFor(sink));

    const err = await rejection(mailer.send({ to: 'rebota@gmail.com', subject: 'x', text: 'x' }));

    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('SMTP_RECIPIENTS_REJECTED');
    expect(err.message).toContain('rebota@gmail.com');
    expect(err.message).toContain('550');
  });

  it('fails permanently when STARTTLS is required and the relay does not offer it', async () => {
    const sink = await startSink();
    const mailer = mailerFor(configFor(sink, { SMTP_STARTTLS: 'required' }));
    const err = await rejection(mailer.verify());
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('SMTP_TLS');
  });

  it('upgrades with STARTTLS when the relay offers it', async () => {
    const sink = await startSink({ starttls: true });
    const mailer = mailerFor(
      configFor(sink, { SMTP_STARTTLS: 'required', SMTP_TLS_REJECT_UNAUTHORIZED: 'false' }),
    );
    await mailer.send({ to: 'a@b.com', subject: 'x', text: 'x' });
    expect(sink.messages()).toHaveLength(1);
  });

  it('reports a refused connection as transient', async () => {
    const sink = await startSink();
    const address = { host: sink.host, port: sink.port };
    await sink.close();
    open.sinks.splice(open.sinks.indexOf(sink), 1);
    const mailer = mailerFor(configFor(address, { SMTP_POOL: 'false' }));

    const err = await rejection(mailer.verify());

    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('SMTP_CONNECTION');
    expect(err.message).toMatch(/^Error de conexión con el servidor SMTP/);
  });

  it('never logs the SMTP password, the temporary password or the body', async () => {
    const sink = await startSink({ auth: { user: 'lucy', password: SMTP_SECRET } });
    const { logger, text: output } = captureLogger('notifier', 'trace');
    const good = mailerFor(configFor(sink, { SMTP_USER: 'lucy', SMTP_PASSWORD: SMTP_SECRET }), logger);
    const email = buildEmail(TipoEmail.PASSWORD_RESET, undefined, {
      ...VARIABLES_DE_EJEMPLO,
      password: TEMP_PASSWORD,
    });

    const sent = await good.send({ to: 'ana@gmail.com', ...email });
    await good.verify();
    sink.setFaults({ rejectPermanent: 1 });
    const failed = await rejection(good.send({ to: 'ana@gmail.com', ...email }));
    const bad = mailerFor(
      configFor(sink, { SMTP_USER: 'lucy', SMTP_PASSWORD: `${SMTP_SECRET}-mal` }),
      logger,
    );
    const authFailed = await rejection(bad.send({ to: 'ana@gmail.com', ...email }));
    // Errors reach the consumer runner's log too: serialised with the platform logger, they stay clean.
    logger.error({ err: failed }, 'send failed');
    logger.error({ err: authFailed }, 'send failed');

    const logged = output();
    expect(logged).toContain(sent.messageId);
    expect(logged).toContain('"code":"SMTP_REJECTED"');
    expect(logged).toContain('"code":"SMTP_AUTH"');
    expect(logged).not.toContain(SMTP_SECRET);
    expect(logged).not.toContain(TEMP_PASSWORD);
    expect(logged).not.toContain('Recuperación de acceso');
    expect(logged).not.toContain(email.subject);
  });
});
