/** The HTTP plumbing the fakes share: listening, closing, reading bodies, writing answers. */
import type { IncomingMessage, OutgoingHttpHeaders, Server as HttpServer, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { FakeInputError } from './errors.js';

/**
 * Starts listening and resolves with the bound address once the server listens; rejects with the `listen` error
 * (`EADDRINUSE`, `EACCES`...). Works for any `net.Server` (HTTP, HTTPS, or `SMTPServer#server`).
 * @param port TCP port; 0 (default) picks a free one.
 * @param host interface; default `127.0.0.1`.
 */
export function listen(server: NetServer, port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** `{protocol}://{host}:{port}` of a bound address, IPv6 hosts in brackets; no trailing slash. */
export function serverOrigin(protocol: 'http' | 'https', address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${protocol}://${host}:${address.port}`;
}

/**
 * Keeps idle keep-alive connections for 65 s (headers timeout 66 s). Clients pool connections; this outlives
 * undici's 4 s idle default, so the client, not the fake, closes idle ones (no resets on reuse).
 */
export function extendKeepAlive(server: HttpServer): void {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
}

/**
 * Stops listening and drops every open connection, idle or hanging (a `timeout` fault's requests included), so
 * close never waits for clients. Rejects when the server was not listening.
 */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/**
 * Reads a request body as UTF-8 text.
 * @param limit most bytes accepted.
 * @throws FakeInputError `body too large` past `limit` (the fakes answer it 400).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) throw new FakeInputError('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Reads a control request's JSON body; an empty or blank body reads as `{}`.
 * @param limit most bytes accepted.
 * @throws FakeInputError `body too large` or `body must be JSON`.
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = (await readBody(req, limit)).trim();
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FakeInputError('body must be JSON');
  }
}

/**
 * Writes a whole answer with its `content-length`. `headers` may override `content-type`, never the length.
 */
export function sendBody(
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  contentType: string,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    ...headers,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
  });
  res.end(body);
}

/**
 * Writes `body` as JSON (`content-type: application/json` unless `headers` set another). `undefined` sends an
 * empty body with only `headers` (no content type or length), as for 204.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: OutgoingHttpHeaders = {},
): void {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  sendBody(res, status, JSON.stringify(body), 'application/json', headers);
}
