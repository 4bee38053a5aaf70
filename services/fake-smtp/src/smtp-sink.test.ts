import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import { mergeFaults } from './faults.js';
import { createSmtpSinkApi, type SinkMessageSummary, type SmtpSinkApi } from './http-api.js';
import {
  createSmtpSink,
  type SinkLogEntry,
  type SinkMessage,
  type SmtpSink,
  type SmtpSinkOptions,
} from './smtp-sink.js';

let sink: SmtpSink | undefined;
let api: SmtpSinkApi | undefined;

afterEach(async () => {
  await api?.close();
  await sink?.close();
  sink = undefined;
  api = undefined;
});

async function start(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  sink = await createSmtpSink(options);
  return sink;
}

type Mail = Parameters<ReturnType<typeof nodemailer.createTransport>['sendMail']>[0];

/** Sends one message with nodemailer the way the notifier does (plain SMTP, no TLS). */
async function send(
  target: SmtpSink,
  mail: Mail,
  auth?: { user: string; pass: string },
): Promise<{ accepted: unknown[]; rejected: unknown[] }> {
  const transport = nodemailer.createTransport({
    host: target.host,
    port: target.port,
    secure: false,
    ignoreTLS: true,
    auth,
  });
  try {
    return await transport.sendMail({ from: 'Lucy <no-reply@v.eco.unrc.edu.ar>', ...mail });
  } finally {
    transport.close();
  }
}

/** The error nodemailer rejected with, for its SMTP reply fields. */
async function sendError(
  target: SmtpSink,
  mail: Mail,
  auth?: { user: string; pass: string },
): Promise<{ responseCode?: number; code?: string; response?: string }> {
  try {
    await send(target, mail, auth);
  } catch (err) {
    return err as { responseCode?: number; code?: string; response?: string };
  }
  throw new Error('the message was accepted');
}

describe('SMTP sink', () => {
  it('stores a plain-text message with its envelope and headers', async () => {
    const s = await start();
    await send(s, {
      to: 'Ana Pérez <ana@gmail.com>',
      subject: 'Bienvenido/a a la UNRC',
      text: 'Hola Ana',
      headers: { 'X-Lucy-Task-Id': '0190a1b2-0000-7000-8000-000000000001' },
    });
    const [m] = s.messages();
    expect(m).toMatchObject({
      envelope: { from: 'no-reply@v.eco.unrc.edu.ar', to: ['ana@gmail.com'] },
      authUser: null,
      from: { name: 'Lucy', address: 'no-reply@v.eco.unrc.edu.ar' },
      to: [{ name: 'Ana Pérez', address: 'ana@gmail.com' }],
      cc: [],
      subject: 'Bienvenido/a a la UNRC',
      text: 'Hola Ana\n',
      html: null,
      attachments: [],
    });
    expect(m!.headers['x-lucy-task-id']).toEqual(['0190a1b2-0000-7000-8000-000000000001']);
    expect(m!.size).toBeGreaterThan(0);
    expect(s.raw(m!.id)!.toString()).toContain('Subject: Bienvenido/a a la UNRC');
  });

  it('keeps HTML and text parts and every recipient, Bcc only in the envelope', async () => {
    const s = await start();
    await send(s, {
      to: ['a@gmail.com', 'b@gmail.com'],
      cc: 'soporte@fce.unrc.edu.ar',
      bcc: 'auditoria@fce.unrc.edu.ar',
      subject: 'Credenciales de acceso - UNRC',
      text: 'Usuario: a',
      html: '<p>Usuario: <b>a</b></p>',
    });
    const m = await s.waitFor((x) => x.subject.startsWith('Credenciales'));
    expect(m.html).toBe('<p>Usuario: <b>a</b></p>');
    expect(m.text).toBe('Usuario: a');
    expect(m.to.map((a) => a.address)).toEqual(['a@gmail.com', 'b@gmail.com']);
    expect(m.cc.map((a) => a.address)).toEqual(['soporte@fce.unrc.edu.ar']);
    expect(m.envelope.to).toEqual([
      'a@gmail.com',
      'b@gmail.com',
      'soporte@fce.unrc.edu.ar',
      'auditoria@fce.unrc.edu.ar',
    ]);
    expect(m.headers.bcc).toBeUndefined();
  });

  it('describes attachments without keeping their content in the parsed message', async () => {
    const s = await start();
    await send(s, {
      to: 'a@gmail.com',
      subject: 'Adjunto',
      text: 'ver adjunto',
      attachments: [
        { filename: 'instructivo.pdf', content: Buffer.alloc(2048, 1), contentType: 'application/pdf' },
      ],
    });
    const [m] = s.messages();
    expect(m!.attachments).toEqual([
      {
        filename: 'instructivo.pdf',
        contentType: 'application/pdf',
        size: 2048,
        contentId: null,
        disposition: 'attachment',
        checksum: expect.stringMatching(/^[0-9a-f]{32}$/) as string,
      },
    ]);
  });

  it('requires the configured credentials and answers wrong ones with 535', async () => {
    const s = await start({ auth: { user: 'lucy', password: 's3creta' } });
    await send(s, { to: 'a@gmail.com', subject: 'con auth', text: 'x' }, { user: 'lucy', pass: 's3creta' });
    expect(s.messages()[0]!.authUser).toBe('lucy');

    const wrong = await sendError(
      s,
      { to: 'a@gmail.com', subject: 'x', text: 'x' },
      { user: 'lucy', pass: 'otra' },
    );
    expect(wrong).toMatchObject({ code: 'EAUTH', responseCode: 535 });
    const none = await sendError(s, { to: 'a@gmail.com', subject: 'x', text: 'x' });
    expect(none.responseCode).toBe(530);
    expect(s.messages()).toHaveLength(1);
  });

  it('accepts any credentials when none are configured', async () => {
    const s = await start();
    await send(s, { to: 'a@gmail.com', subject: 'x', text: 'x' }, { user: 'cualquiera', pass: 'cualquiera' });
    expect(s.messages()[0]!.authUser).toBe('cualquiera');
  });

  it('refuses a message over the size limit with 552', async () => {
    const s = await start({ sizeLimit: 4096 });
    const err = await sendError(s, { to: 'a@gmail.com', subject: 'grande', text: 'x'.repeat(20_000) });
    expect(err.responseCode).toBe(552);
    expect(s.messages()).toEqual([]);
  });

  it('keeps at most maxMessages, dropping the oldest', async () => {
    const s = await start({ maxMessages: 2 });
    for (const n of [1, 2, 3]) await send(s, { to: 'a@gmail.com', subject: `n${n}`, text: 'x' });
    expect(s.messages().map((m) => m.subject)).toEqual(['n2', 'n3']);
    expect(s.clear()).toBe(2);
    expect(s.messages()).toEqual([]);
  });

  it('queries the newest matches first, copying only the page', async () => {
    const s = await start();
    for (const n of [1, 2, 3, 4]) await send(s, { to: `n${n % 2}@gmail.com`, subject: `n${n}`, text: 'x' });
    const odd = s.query((m) => m.envelope.to.includes('n1@gmail.com'), 1);
    expect(odd.total).toBe(2);
    expect(odd.page.map((m) => m.subject)).toEqual(['n3']);
    expect(s.query(() => true, 10).page.map((m) => m.subject)).toEqual(['n4', 'n3', 'n2', 'n1']);
    odd.page[0]!.subject = 'changed';
    expect(s.messages().map((m) => m.subject)).toEqual(['n1', 'n2', 'n3', 'n4']);
  });

  it('waits for a matching message and times out when none comes', async () => {
    const s = await start();
    const waiting = s.waitFor((m) => m.to.some((a) => a.address === 'b@gmail.com'));
    await send(s, { to: 'a@gmail.com', subject: 'primero', text: 'x' });
    await send(s, { to: 'b@gmail.com', subject: 'segundo', text: 'x' });
    expect((await waiting).subject).toBe('segundo');
    await expect(s.waitFor((m) => m.subject === 'nunca', 50)).rejects.toThrow(
      'no message matched within 50 ms',
    );
  });

  it('logs ids, recipients and subjects but never bodies or passwords', async () => {
    const entries: SinkLogEntry[] = [];
    const s = await start({ auth: { user: 'lucy', password: 'smtp-pass' }, logger: (e) => entries.push(e) });
    const auth = { user: 'lucy', pass: 'smtp-pass' };
    await send(
      s,
      { to: 'a@gmail.com', subject: 'Credenciales de acceso - UNRC', text: 'Contraseña temporal: Xy7!kq2P' },
      auth,
    );
    await sendError(s, { to: 'a@gmail.com', subject: 'x', text: 'x' }, { user: 'lucy', pass: 'wrong-pass' });
    const logged = JSON.stringify(entries);
    expect(entries.find((e) => e.msg === 'message received')).toMatchObject({
      id: s.messages()[0]!.id,
      to: ['a@gmail.com'],
      subject: 'Credenciales de acceso - UNRC',
    });
    expect(entries.some((e) => e.msg === 'smtp authentication failed')).toBe(true);
    for (const secret of ['Xy7!kq2P', 'smtp-pass', 'wrong-pass']) expect(logged).not.toContain(secret);
  });
});

describe('SMTP sink faults', () => {
  it('rejects the next messages with a temporary or permanent reply nodemailer reports', async () => {
    const s = await start();
    s.setFaults({ rejectTemporary: 1, rejectPermanent: { count: 1, code: 550, message: '5.7.1 Rechazado' } });
    const mail = { to: 'a@gmail.com', subject: 'x', text: 'x' };
    expect(await sendError(s, mail)).toMatchObject({ responseCode: 451, code: 'EMESSAGE' });
    const permanent = await sendError(s, mail);
    expect(permanent).toMatchObject({ responseCode: 550 });
    expect(permanent.response).toContain('5.7.1 Rechazado');
    await send(s, mail);
    expect(s.messages()).toHaveLength(1);
    expect(s.faults()).toEqual({});
  });

  it('rejects matching recipients with 550 and delivers to the others', async () => {
    const s = await start();
    s.setFaults({ rejectRecipients: '^rebota' });
    const info = await send(s, { to: ['ok@gmail.com', 'REBOTA@gmail.com'], subject: 'x', text: 'x' });
    expect(info.rejected).toEqual(['REBOTA@gmail.com']);
    expect(s.messages()[0]!.envelope.to).toEqual(['ok@gmail.com']);
    const all = await sendError(s, { to: 'rebota@gmail.com', subject: 'x', text: 'x' });
    expect(all).toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
  });

  it('delays the answer to DATA under latencyMs', async () => {
    const s = await start();
    s.setFaults({ latencyMs: 80 });
    const started = performance.now();
    await send(s, { to: 'a@gmail.com', subject: 'x', text: 'x' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it('validates fault input', () => {
    expect(() => mergeFaults({}, { rejectTemporary: { count: 1, code: 550 } })).toThrow('4xx reply code');
    expect(() => mergeFaults({}, { rejectRecipients: '(' })).toThrow('not a valid regular expression');
    expect(() => mergeFaults({}, { nope: 1 })).toThrow('unknown fault "nope"');
    expect(mergeFaults({ latencyMs: 5 }, { rejectPermanent: 2 })).toEqual({
      latencyMs: 5,
      rejectPermanent: { remaining: 2, code: 554, message: '5.7.1 Error: message rejected by policy' },
    });
  });
});

describe('SMTP sink HTTP API', () => {
  async function startApi(): Promise<{ s: SmtpSink; url: string }> {
    const s = await start();
    api = await createSmtpSinkApi({ sink: s });
    return { s, url: api.url };
  }
  const getJson = async (url: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(url);
    return { status: res.status, body: await res.json() };
  };

  it('lists messages newest first, searches by recipient and subject, and shows one in full', async () => {
    const { s, url } = await startApi();
    await send(s, { to: 'a@gmail.com', subject: 'Bienvenido/a a la UNRC', text: 'uno' });
    await send(s, {
      to: 'b@gmail.com',
      cc: 'a@gmail.com',
      subject: 'Credenciales de acceso - UNRC',
      text: 'dos',
    });
    await send(s, { to: 'c@gmail.com', subject: 'Credenciales de acceso - UNRC', text: 'tres' });

    const all = (await getJson(`${url}/api/messages`)).body as {
      total: number;
      messages: SinkMessageSummary[];
    };
    expect(all.total).toBe(3);
    expect(all.messages.map((m) => m.to[0]!.address)).toEqual(['c@gmail.com', 'b@gmail.com', 'a@gmail.com']);
    expect(all.messages[0]).not.toHaveProperty('text');

    const toA = (await getJson(`${url}/api/messages?to=A@GMAIL`)).body as { messages: SinkMessageSummary[] };
    expect(toA.messages.map((m) => m.subject)).toEqual([
      'Credenciales de acceso - UNRC',
      'Bienvenido/a a la UNRC',
    ]);
    const cred = (await getJson(`${url}/api/messages?subject=credenciales&limit=1`)).body as {
      total: number;
      count: number;
      messages: SinkMessageSummary[];
    };
    expect(cred).toMatchObject({ total: 2, count: 1 });

    const full = await getJson(`${url}/api/messages/${cred.messages[0]!.id}`);
    expect(full.status).toBe(200);
    expect((full.body as SinkMessage).text).toBe('tres\n');
    const raw = await fetch(`${url}/api/messages/${cred.messages[0]!.id}/raw`);
    expect(raw.headers.get('content-type')).toBe('message/rfc822');
    expect(await raw.text()).toContain('To: c@gmail.com');
    expect((await getJson(`${url}/api/messages/nope`)).status).toBe(404);
    expect((await getJson(`${url}/api/messages?limit=0`)).status).toBe(400);
  });

  it('deletes one or every message', async () => {
    const { s, url } = await startApi();
    await send(s, { to: 'a@gmail.com', subject: 'x', text: 'x' });
    await send(s, { to: 'b@gmail.com', subject: 'y', text: 'y' });
    const [first] = s.messages();
    expect((await fetch(`${url}/api/messages/${first!.id}`, { method: 'DELETE' })).status).toBe(200);
    expect(s.messages().map((m) => m.subject)).toEqual(['y']);
    const res = await fetch(`${url}/api/messages`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ deleted: 1 });
    expect(s.messages()).toEqual([]);
  });

  it('sets and clears faults, refusing invalid ones with 400', async () => {
    const { s, url } = await startApi();
    const post = (body: unknown): Promise<Response> =>
      fetch(`${url}/api/faults`, { method: 'POST', body: JSON.stringify(body) });
    expect(await (await post({ rejectPermanent: 1 })).json()).toMatchObject({
      rejectPermanent: { remaining: 1 },
    });
    expect((await sendError(s, { to: 'a@gmail.com', subject: 'x', text: 'x' })).responseCode).toBe(554);
    const bad = await post({ rejectTemporary: { count: 1, code: 200 } });
    expect(bad.status).toBe(400);
    await post({ latencyMs: 5 });
    expect((await getJson(`${url}/api/faults`)).body).toEqual({ latencyMs: 5 });
    await fetch(`${url}/api/faults`, { method: 'DELETE' });
    expect(s.faults()).toEqual({});
    expect((await getJson(`${url}/healthz`)).body).toEqual({ status: 'ok' });
  });
});
