import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus, LogService } from '@lucy/proto';
import { TEST_TOKEN, testLogger } from '../../testkit/src/index.js';
import { createRpcClient, startRpcServer } from '../src/index.js';

const FIXTURE_TOKEN = 'test-token-0123456789abcdef';
const LIST_LOGS = '/lucy.task.v1.LogService/ListLogs';
const MB = 1024 * 1024;

interface Fixture {
  url: string;
  metricsUrl: string;
  child: ChildProcess;
}

/** The fixture server in its own process, with the chart's 256 MB heap limit. */
async function startFixture(options: Record<string, unknown> = {}): Promise<Fixture> {
  const tsx = join(import.meta.dirname, '..', '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=256', tsx, 'test/fixtures-rpc-server.ts', JSON.stringify(options)],
    { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)));
  });
  return { ...(JSON.parse(line) as { url: string; metricsUrl: string }), child };
}

/** The fixture's resident memory in MB, from its own /metrics port. */
async function rssMb(f: Fixture): Promise<number> {
  const text = await (await fetch(`${f.metricsUrl}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\S+)$/m.exec(text)![1]) / MB;
}

interface Answer {
  status?: number;
  body?: string;
  error?: string;
  ms: number;
}

/** POSTs `total` bytes (the same chunk repeated, never all in memory) over HTTP/1.1 and waits for the answer. */
function post1(url: string, headers: Record<string, string>, chunk: Buffer, times: number): Promise<Answer> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const req = httpRequest(`${url}${LIST_LOGS}`, { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body, ms: Date.now() - t0 }));
      res.on('error', () => resolve({ status: res.statusCode, body, ms: Date.now() - t0 }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code, ms: Date.now() - t0 }));
    let sent = 0;
    const write = () => {
      while (sent < times) {
        sent++;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** The same over HTTP/2 (h2c), as the Connect clients do. */
function post2(url: string, headers: Record<string, string>, chunk: Buffer, times: number): Promise<Answer> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const session = http2Connect(url);
    session.on('error', () => undefined);
    const stream = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: LIST_LOGS,
      ...headers,
    });
    let status: number | undefined;
    let body = '';
    const done = (extra: Partial<Answer> = {}) => {
      session.destroy();
      resolve({ status, body, ms: Date.now() - t0, ...extra });
    };
    stream.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
    stream.on('data', (d: Buffer) => (body += d.toString()));
    stream.on('end', () => done());
    stream.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code }));
    let sent = 0;
    const write = () => {
      while (sent < times && !stream.destroyed) {
        sent++;
        if (!stream.write(chunk)) return void stream.once('drain', write);
      }
      stream.end();
    };
    write();
  });
}

/** 10^9 zero bytes as gzip in under 1 MB: a hundred members of 10^7 zeros (gunzip reads them all). */
function gzipBomb(): Buffer {
  const member = gzipSync(Buffer.alloc(10_000_000), { level: 9 });
  return Buffer.concat(Array.from({ length: 100 }, () => member));
}

describe('rpc server limits, against a server in its own process', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await startFixture();
    // Warm up: the first calls load code, which is not what we measure.
    const c = createRpcClient(LogService, { baseUrl: f.url, token: FIXTURE_TOKEN });
    await c.listLogs({ search: 'hola' });
    await post1(f.url, { 'content-type': 'application/json' }, Buffer.alloc(MB, 0x20), 4);
  }, 60_000);
  afterAll(() => {
    f?.child.kill('SIGTERM');
  });

  it('refuses a 20 MB and a 400 MB body without a token at once, with its memory flat', async () => {
    const before = await rssMb(f);
    const chunk = Buffer.alloc(MB, 0x61);
    for (const [post, times] of [
      [post1, 20],
      [post2, 20],
      [post1, 400],
    ] as const) {
      const answer = await post(f.url, { 'content-type': 'application/json' }, chunk, times);
      expect(answer.status, JSON.stringify(answer)).toBe(401);
      expect(answer.body).toContain('Falta el token de acceso');
      expect(answer.ms).toBeLessThan(5000);
    }
    expect((await rssMb(f)) - before).toBeLessThan(64);
    const c = createRpcClient(LogService, { baseUrl: f.url, token: FIXTURE_TOKEN });
    await expect(c.listLogs({ search: 'sigo vivo' })).resolves.toMatchObject({
      logs: [{ message: 'sigo vivo' }],
    });
  }, 60_000);

  it('refuses a gzip bomb (10^9 zeros in under 1 MB) with or without the token, never inflating it', async () => {
    const bomb = gzipBomb();
    expect(bomb.length).toBeLessThan(1_000_000);
    const before = await rssMb(f);
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const anonymous = await post1(f.url, headers, bomb, 1);
    expect(anonymous.status).toBe(401);
    expect(anonymous.ms).toBeLessThan(5000);
    for (const post of [post1, post2]) {
      const authed = await post(f.url, { ...headers, authorization: `Bearer ${FIXTURE_TOKEN}` }, bomb, 1);
      expect(authed.status, JSON.stringify(authed)).toBe(429);
      expect(JSON.parse(authed.body!)).toEqual({
        code: 'resource_exhausted',
        message: 'El mensaje supera el tamaño máximo aceptado (4194304 bytes).',
      });
      expect(authed.ms).toBeLessThan(5000);
    }
    // The same bomb as a gRPC message (compressed flag in the envelope).
    const session = http2Connect(f.url);
    try {
      const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({
          [h2.HTTP2_HEADER_METHOD]: 'POST',
          [h2.HTTP2_HEADER_PATH]: LIST_LOGS,
          'content-type': 'application/grpc',
          'grpc-encoding': 'gzip',
          te: 'trailers',
          authorization: `Bearer ${FIXTURE_TOKEN}`,
        });
        let headers: Record<string, unknown> = {};
        stream.on('response', (h) => (headers = h));
        stream.on('trailers', (t: Record<string, unknown>) => resolve({ ...headers, ...t }));
        stream.on('end', () => resolve(headers));
        stream.on('error', reject);
        stream.resume();
        const head = Buffer.alloc(5);
        head[0] = 1;
        head.writeUInt32BE(bomb.length, 1);
        stream.end(Buffer.concat([head, bomb]));
      });
      expect(trailers['grpc-status']).toBe(String(Code.ResourceExhausted));
    } finally {
      session.close();
    }
    expect((await rssMb(f)) - before).toBeLessThan(64);
  }, 60_000);

  it('refuses a message that inflates far more than real payloads do, under the size cap, before decoding it', async () => {
    const headers = {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      authorization: `Bearer ${FIXTURE_TOKEN}`,
    };
    // 2 MiB of JSON (whitespace around one field) in ~2 KB of gzip: within readMaxBytes, a ratio of ~1000.
    const inflating = gzipSync(Buffer.from(`{${' '.repeat(2 * MB)}"search":"hola"}`), { level: 9 });
    expect(inflating.length).toBeLessThan(8_192);
    const refused = await post1(f.url, headers, inflating, 1);
    expect(refused.status, JSON.stringify(refused)).toBe(429);
    expect(JSON.parse(refused.body!)).toMatchObject({ code: 'resource_exhausted' });
    // A compressed request as a client would send it is served.
    const ordinary = await post1(
      f.url,
      headers,
      gzipSync(Buffer.from(JSON.stringify({ search: 'hola' }))),
      1,
    );
    expect(ordinary.status, JSON.stringify(ordinary)).toBe(200);
  });
});

/** Opens `n` TCP connections and resolves, for each, the ms until the server closed it (or Infinity). */
async function openSockets(url: string, n: number, send?: (s: Socket) => void): Promise<Promise<number>[]> {
  const { hostname, port } = new URL(url);
  const sockets = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = createConnection({ host: hostname, port: Number(port) }, () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  const t0 = Date.now();
  return sockets.map((s) => {
    s.on('error', () => undefined);
    s.resume();
    send?.(s);
    return new Promise<number>((resolve) => {
      s.once('close', () => resolve(Date.now() - t0));
      setTimeout(() => {
        s.destroy();
        resolve(Infinity);
      }, 10_000).unref();
    });
  });
}

describe('rpc server time and connection limits', () => {
  let f: Fixture;
  const limits = { headersTimeoutMs: 500, requestTimeoutMs: 1500, idleTimeoutMs: 1000, maxConnections: 40 };

  beforeAll(async () => {
    f = await startFixture({ limits });
  }, 60_000);
  afterAll(() => {
    f?.child.kill('SIGTERM');
  });

  it('closes 30 silent sockets within the headers timeout', async () => {
    const closed = await Promise.all(await openSockets(f.url, 30));
    for (const ms of closed) expect(ms).toBeLessThan(limits.headersTimeoutMs + 1500);
  }, 20_000);

  it('closes 30 sockets that send half a request header within the headers timeout', async () => {
    const closed = await Promise.all(
      await openSockets(f.url, 30, (s) => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')),
    );
    for (const ms of closed) expect(ms).toBeLessThan(limits.headersTimeoutMs + 1500);
  }, 20_000);

  it('closes 30 authenticated requests whose body stops coming within the request timeout', async () => {
    const head =
      `POST ${LIST_LOGS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Authorization: Bearer ${FIXTURE_TOKEN}\r\nContent-Length: 1000\r\n\r\n{"search":"`;
    const closed = await Promise.all(await openSockets(f.url, 30, (s) => s.write(head)));
    for (const ms of closed) expect(ms).toBeLessThan(limits.requestTimeoutMs + 1500);
  }, 20_000);

  it('closes 30 idle keep-alive HTTP/1.1 connections and 30 idle HTTP/2 sessions within the idle timeout', async () => {
    const h1 = await openSockets(f.url, 30, (s) =>
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n'),
    );
    const sessions = Array.from({ length: 30 }, () => {
      const t0 = Date.now();
      const session = http2Connect(f.url);
      session.on('error', () => undefined);
      const req = session.request({ [h2.HTTP2_HEADER_PATH]: '/healthz' });
      req.resume();
      req.on('error', () => undefined);
      return new Promise<number>((resolve) => {
        session.once('close', () => resolve(Date.now() - t0));
        setTimeout(() => {
          session.destroy();
          resolve(Infinity);
        }, 10_000).unref();
      });
    });
    for (const ms of await Promise.all([...h1, ...sessions]))
      expect(ms).toBeLessThan(limits.idleTimeoutMs + 2000);
  }, 20_000);

  it('keeps a quiet server stream (and its session) open past the idle timeout', async () => {
    const health = createRpcClient(Health, { baseUrl: f.url, token: '' });
    const abort = new AbortController();
    const it = health.watch({}, { signal: abort.signal })[Symbol.asyncIterator]();
    const first = (await it.next()) as IteratorResult<{ status: HealthCheckResponse_ServingStatus }>;
    expect(first.done ? undefined : first.value.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    // Nothing is sent for 3 idle timeouts: the stream must neither end nor fail.
    const outcome = await Promise.race([
      it.next().then(
        () => 'ended',
        (e: unknown) => `failed: ${String(e)}`,
      ),
      new Promise((r) => setTimeout(() => r('still open'), limits.idleTimeoutMs * 3)),
    ]);
    expect(outcome).toBe('still open');
    abort.abort();
  }, 20_000);

  it('refuses connections above the cap', async () => {
    const held = await openSockets(f.url, limits.maxConnections, (s) =>
      s.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: '),
    );
    const extra = await openSockets(f.url, 1);
    expect(await extra[0]).toBeLessThan(300);
    await Promise.all(held);
  }, 20_000);
});

describe('rpc server over TLS', () => {
  let dir: string;
  const makeCert = (name: string) => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, `${name}.key`),
        '-out',
        join(dir, `${name}.crt`),
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lucy-rpc-tls-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The CN of the certificate a new connection is shown. */
  const presented = (port: number, ca: Buffer) =>
    new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'] }, () => {
        resolve(String(s.getPeerCertificate().subject.CN));
        s.destroy();
      });
      s.once('error', reject);
    });

  it('serves RPCs over TLS and picks up a renewed certificate without a restart', async () => {
    const first = makeCert('primero');
    const second = makeCert('segundo');
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, first.cert);
    writeFileSync(keyFile, first.key);
    const server = await startRpcServer({
      port: 0,
      token: TEST_TOKEN,
      logger: testLogger(),
      services: [LogService],
      readiness: [],
      metrics: false,
      tls: { certFile, keyFile, reloadIntervalMs: 50 },
      routes: (router) => router.service(LogService, { listLogs: async () => ({ logs: [] }) }),
    });
    try {
      expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
      const c = createRpcClient(LogService, { baseUrl: server.url, token: TEST_TOKEN, ca: first.cert });
      await expect(c.listLogs({})).resolves.toMatchObject({ logs: [] });
      const bad = createRpcClient(LogService, {
        baseUrl: server.url,
        token: 'wrong-token-wrong-token',
        ca: first.cert,
      });
      await expect(bad.listLogs({})).rejects.toMatchObject({ code: Code.Unauthenticated });
      // Cleartext on the TLS port gets nothing.
      const plain = await fetch(`http://127.0.0.1:${server.port}/healthz`).then(
        (r) => r.status,
        () => 'refused',
      );
      expect(plain).toBe('refused');
      expect(await presented(server.port, first.cert)).toBe('primero');

      // A half-written renewal (new key, old certificate) is not taken; the pair is.
      writeFileSync(keyFile, second.key);
      await new Promise((r) => setTimeout(r, 300));
      expect(await presented(server.port, first.cert)).toBe('primero');
      writeFileSync(certFile, second.cert);
      const deadline = Date.now() + 5000;
      let cn = '';
      while (Date.now() < deadline && cn !== 'segundo') {
        await new Promise((r) => setTimeout(r, 100));
        cn = await presented(server.port, second.cert).catch(() => '');
      }
      expect(cn).toBe('segundo');
    } finally {
      await server.close();
    }
  }, 30_000);
});
