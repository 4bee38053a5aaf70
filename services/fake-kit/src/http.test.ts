import { createServer, request, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeInputError } from './errors.js';
import {
  closeServer,
  extendKeepAlive,
  listen,
  readBody,
  readJsonBody,
  sendBody,
  sendJson,
  serverOrigin,
} from './http.js';

const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(
    servers
      .splice(0)
      .filter((s) => s.listening)
      .map(closeServer),
  );
});

/** A real server on a free port that answers with `handler`. */
async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  return serverOrigin('http', await listen(server));
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** The error a handler's `readBody`/`readJsonBody` threw, answered as 400 with its message. */
const reading =
  (read: (req: IncomingMessage) => Promise<unknown>): RequestListener =>
  (req, res) => {
    read(req).then(
      (value) => sendJson(res, 200, { value }),
      (err: unknown) => sendJson(res, err instanceof FakeInputError ? 400 : 500, { error: String(err) }),
    );
  };

describe('listen', () => {
  it('listens on 127.0.0.1 and a free port by default and resolves with the address', async () => {
    const server = createServer();
    servers.push(server);
    const address = await listen(server);
    expect(address.address).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
    expect(serverOrigin('http', address)).toBe(`http://127.0.0.1:${address.port}`);
  });

  it('rejects when the port is taken', async () => {
    const first = createServer();
    servers.push(first);
    const { port } = await listen(first);
    const second = createNetServer();
    await expect(listen(second, port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});

describe('serverOrigin', () => {
  it('puts IPv6 hosts in brackets', () => {
    expect(serverOrigin('https', { address: '::1', family: 'IPv6', port: 8443 })).toBe('https://[::1]:8443');
  });
});

describe('extendKeepAlive', () => {
  it('outlives the idle time of client pools', () => {
    const server = createServer();
    extendKeepAlive(server);
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.headersTimeout).toBe(66_000);
  });
});

describe('closeServer', () => {
  it('stops listening and drops a request that never gets an answer', async () => {
    const url = await serve(() => undefined);
    const server = servers[0] as Server;
    const hanging = new Promise<string>((resolve) => {
      const req = request(`${url}/hang`, () => resolve('answered'));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      req.end();
    });
    await new Promise((resolve) => server.once('request', resolve));
    await closeServer(server);
    expect(server.listening).toBe(false);
    expect(await hanging).toBe('ECONNRESET');
  });

  it('rejects when the server is not listening', async () => {
    await expect(closeServer(createServer())).rejects.toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
  });
});

describe('sendJson', () => {
  it('writes JSON with its type and byte length', async () => {
    const url = await serve((_req, res) => sendJson(res, 201, { name: 'Tomás' }, { 'x-extra': '1' }));
    const answer = await call(url);
    expect(answer.status).toBe(201);
    expect(answer.body).toBe('{"name":"Tomás"}');
    expect(answer.headers).toMatchObject({
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength('{"name":"Tomás"}')),
      'x-extra': '1',
    });
  });

  it('lets headers set another content type', async () => {
    const url = await serve((_req, res) =>
      sendJson(res, 200, [], { 'content-type': 'application/json;odata.metadata=minimal' }),
    );
    expect((await call(url)).headers['content-type']).toBe('application/json;odata.metadata=minimal');
  });

  it('sends no body and no content type for undefined', async () => {
    const url = await serve((_req, res) => sendJson(res, 204, undefined, { 'request-id': 'r1' }));
    const answer = await call(url);
    expect(answer).toMatchObject({ status: 204, body: '' });
    expect(answer.headers['content-type']).toBeUndefined();
    expect(answer.headers['request-id']).toBe('r1');
  });
});

describe('sendBody', () => {
  it('writes text or bytes with the given type and length', async () => {
    const raw = Buffer.from('Subject: hola\r\n\r\ncuerpo\r\n');
    const url = await serve((req, res) =>
      req.url === '/raw'
        ? sendBody(res, 200, raw, 'message/rfc822')
        : sendBody(res, 503, '<h1>Mantenimiento</h1>', 'text/html; charset=utf-8', { 'retry-after': '300' }),
    );
    const bytes = await call(`${url}/raw`);
    expect(bytes).toMatchObject({ status: 200, body: raw.toString() });
    expect(bytes.headers).toMatchObject({
      'content-type': 'message/rfc822',
      'content-length': String(raw.length),
    });
    const html = await call(url);
    expect(html).toMatchObject({ status: 503, body: '<h1>Mantenimiento</h1>' });
    expect(html.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'retry-after': '300' });
  });
});

describe('readBody', () => {
  it('reads the body as UTF-8 text up to the limit', async () => {
    const url = await serve(reading((req) => readBody(req, 16)));
    const answer = await call(url, { method: 'POST', body: 'año=2025' });
    expect(JSON.parse(answer.body)).toEqual({ value: 'año=2025' });
  });

  it('refuses a body over the limit as input error', async () => {
    const url = await serve(reading((req) => readBody(req, 16)));
    const answer = await call(url, { method: 'POST', body: 'x'.repeat(17) });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'FakeInputError: body too large' });
  });
});

describe('readJsonBody', () => {
  it('parses JSON and reads an empty body as {}', async () => {
    const url = await serve(reading((req) => readJsonBody(req, 1024)));
    expect(JSON.parse((await call(url, { method: 'POST', body: ' {"a":1} ' })).body)).toEqual({
      value: { a: 1 },
    });
    expect(JSON.parse((await call(url, { method: 'POST', body: '  ' })).body)).toEqual({ value: {} });
  });

  it('refuses a body that is not JSON as input error', async () => {
    const url = await serve(reading((req) => readJsonBody(req, 1024)));
    const answer = await call(url, { method: 'POST', body: '{a' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'FakeInputError: body must be JSON' });
  });
});
