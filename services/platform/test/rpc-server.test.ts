import { connect as http2Connect, constants as h2 } from 'node:http2';
import { networkInterfaces } from 'node:os';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus, LogService } from '@lucy/proto';
import { TEST_TOKEN, testLogger } from '../../testkit/src/index.js';
import { BadRequestSchema } from '@lucy/proto';
import {
  createRpcClient,
  NotFoundError,
  startRpcServer,
  ValidationError,
  withInputBounds,
  type RpcServer,
} from '../src/index.js';

describe('rpc server', () => {
  let server: RpcServer;
  let databaseUp = true;

  beforeAll(async () => {
    server = await startRpcServer({
      port: 0,
      host: '127.0.0.1',
      token: TEST_TOKEN,
      logger: testLogger(),
      extraRoutes: {
        '/exports/demo.csv': (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/csv' });
          res.end('dni\n1\n');
        },
      },
      services: [LogService],
      readiness: [
        {
          name: 'database',
          check: async () => {
            if (!databaseUp) throw new Error('connection refused');
          },
        },
      ],
      routes: (router) =>
        router.service(LogService, {
          async listLogs(req) {
            if (req.search === 'invalid')
              throw new ValidationError([
                { field: 'desde', message: 'La fecha desde debe ser anterior a hasta' },
              ]);
            if (req.search === 'missing') throw new NotFoundError('No existe la tarea');
            if (req.search === 'boom') throw new Error('secret internal detail');
            if (req.search === 'long')
              throw new ValidationError([
                { field: 'search', message: `no válido: ${'x'.repeat(5_000_000)}` },
              ]);
            return { logs: [] };
          },
        }),
    });
  });
  afterAll(() => server.close());

  it('serves /healthz and /readyz without a token, and /metrics only on its own port', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, checks: { database: 'ok' } });
    expect(server.metricsUrl).toBeDefined();
    expect(server.metricsPort).not.toBe(server.port);
    const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
    expect((await fetch(`${server.metricsUrl}/readyz`)).status).toBe(404);
    // Not on the RPC port, with or without the token.
    expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
    const withToken = await fetch(`${server.url}/metrics`, {
      headers: { authorization: `Bearer ${TEST_TOKEN}` },
    });
    expect(withToken.status).toBe(404);
    expect(await withToken.text()).not.toContain('process_cpu');
  });

  it('reports not ready by dependency name and state only, never the raw error', async () => {
    databaseUp = false;
    try {
      const r = await fetch(`${server.url}/readyz`);
      expect(r.status).toBe(503);
      const text = await r.text();
      expect(JSON.parse(text)).toEqual({ ok: false, checks: { database: 'error' } });
      expect(text).not.toContain('refused');
      const health = createRpcClient(Health, { baseUrl: server.url, token: '' });
      expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    } finally {
      databaseUp = true;
    }
  });

  it('puts extra routes and unknown paths behind the token', async () => {
    const path = `${server.url}/exports/demo.csv`;
    expect((await fetch(path)).status).toBe(401);
    expect((await fetch(path, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(
      401,
    );
    const ok = await fetch(path, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('dni\n1\n');
    expect((await fetch(`${server.url}/anything`)).status).toBe(401);
  });

  it('listens on 127.0.0.1 when no host is given', async () => {
    const local = await startRpcServer({
      port: 0,
      token: TEST_TOKEN,
      logger: testLogger(),
      services: [],
      readiness: [],
      metrics: false,
      routes: () => undefined,
    });
    try {
      expect(local.url).toBe(`http://127.0.0.1:${local.port}`);
      expect(local.metricsUrl).toBeUndefined();
      expect((await fetch(`${local.url}/healthz`)).status).toBe(200);
      const outside = Object.values(networkInterfaces())
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
      // Any non-loopback address of this host must be refused.
      for (const address of outside ? [outside] : []) {
        const refused = await new Promise<string>((resolve) => {
          const s = createConnection({ host: address, port: local.port });
          s.once('connect', () => {
            s.destroy();
            resolve('connected');
          });
          s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        expect(refused).toBe('ECONNREFUSED');
      }
    } finally {
      await local.close();
    }
  });

  it('answers grpc.health.v1 without a token, over Connect and gRPC on HTTP/2', async () => {
    for (const protocol of ['connect', 'grpc'] as const) {
      const health = createRpcClient(Health, { baseUrl: server.url, token: '', protocol });
      expect((await health.check({ service: 'lucy.task.v1.LogService' })).status).toBe(
        HealthCheckResponse_ServingStatus.SERVING,
      );
    }
  });

  it('refuses an RPC with a missing or wrong token', async () => {
    const bad = createRpcClient(LogService, { baseUrl: server.url, token: 'wrong-token-wrong-token' });
    await expect(bad.listLogs({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    const ok = createRpcClient(LogService, { baseUrl: server.url, token: TEST_TOKEN });
    await expect(ok.listLogs({})).resolves.toMatchObject({ logs: [] });
  });

  it('maps domain errors once: InvalidArgument naming the field, NotFound, and Internal without internals', async () => {
    const c = createRpcClient(LogService, { baseUrl: server.url, token: TEST_TOKEN });
    const invalid = await c.listLogs({ search: 'invalid' }).catch((e: unknown) => ConnectError.from(e));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect((invalid as ConnectError).rawMessage).toContain('desde: La fecha desde debe ser anterior a hasta');
    await expect(c.listLogs({ search: 'missing' })).rejects.toMatchObject({ code: Code.NotFound });
    const internal = await c.listLogs({ search: 'boom' }).catch((e: unknown) => ConnectError.from(e));
    expect(internal).toMatchObject({ code: Code.Internal });
    expect((internal as ConnectError).rawMessage).not.toContain('secret internal detail');
  });

  it('cuts an echoed value in an error message instead of sending megabytes', async () => {
    const c = createRpcClient(LogService, { baseUrl: server.url, token: TEST_TOKEN });
    const err = await c.listLogs({ search: 'long' }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as ConnectError).rawMessage.length).toBeLessThan(1100);
    expect((err as ConnectError).rawMessage).toContain('search: no válido');
    const [violation] = (err as ConnectError).findDetails(BadRequestSchema).flatMap((d) => d.violations);
    expect(violation?.field).toBe('search');
    expect(violation!.description.length).toBeLessThan(400);
  });

  it('bounds every string of a request before the handler: length, NUL, lone surrogates (JSON), list size', async () => {
    let handled = 0;
    const bounded = await startRpcServer({
      port: 0,
      token: TEST_TOKEN,
      logger: testLogger(),
      services: [LogService],
      readiness: [],
      metrics: false,
      routes: (router) =>
        router.service(
          LogService,
          withInputBounds(
            LogService,
            {
              async listLogs() {
                handled++;
                return { logs: [] };
              },
            },
            {
              maxChars: { search: 200 },
              labels: { search: 'la búsqueda', module: 'el módulo' },
              maxItems: 3,
            },
          ),
        ),
    });
    try {
      const call = async (body: string) => {
        const r = await fetch(`${bounded.url}/lucy.task.v1.LogService/ListLogs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
          body,
        });
        return { status: r.status, text: await r.text() };
      };
      const long = await call(JSON.stringify({ search: 'x'.repeat(201) }));
      expect(long.status).toBe(400);
      expect(long.text).toContain('La búsqueda admite como máximo 200 caracteres (tiene 201)');
      expect(long.text).not.toContain('xxxxxxxxxx');
      // Raw JSON: a lone surrogate escape and a NUL escape, as a hand-written client could send them.
      const surrogate = await call('{"module":"a\\ud800b"}');
      // protobuf-es already refuses it while decoding; either way it never reaches the handler.
      expect(surrogate.status).toBe(400);
      const nul = await call('{"alumnoId":"a\\u0000b"}');
      expect(nul.status).toBe(400);
      expect(nul.text).toContain('alumno_id');
      const many = await call(
        JSON.stringify({ levels: ['LOG_LEVEL_INFO', 'LOG_LEVEL_INFO', 'LOG_LEVEL_INFO', 'LOG_LEVEL_INFO'] }),
      );
      expect(many.status).toBe(400);
      expect(many.text).toContain('como máximo 3 elementos');
      expect(handled).toBe(0);
      expect((await call(JSON.stringify({ search: 'x'.repeat(200), module: 'ñandú 😀' }))).status).toBe(200);
      expect(handled).toBe(1);
    } finally {
      await bounded.close();
    }
  });

  it('never sends a decoding error verbatim, over Connect JSON, Connect binary and gRPC', async () => {
    const echo = 'ECO-DEL-CLIENTE'.repeat(50);
    const connectJson = await fetch(`${server.url}/lucy.task.v1.LogService/ListLogs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify({ search: { nested: echo } }),
    });
    const jsonBody = await connectJson.text();
    expect(connectJson.status).toBe(400);
    expect(JSON.parse(jsonBody)).toEqual({
      code: 'invalid_argument',
      message: 'La solicitud no se pudo interpretar: revisá el formato y el tipo de cada campo.',
    });
    expect(jsonBody).not.toContain('ECO-DEL');
    const connectBinary = await fetch(`${server.url}/lucy.task.v1.LogService/ListLogs`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto', authorization: `Bearer ${TEST_TOKEN}` },
      body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]),
    });
    const binaryBody = await connectBinary.text();
    expect(binaryBody).not.toMatch(/parse binary|wire type|premature/i);
    // A request that cannot be decoded is the client's error, as over JSON (Connect itself says Internal).
    expect(connectBinary.status).toBe(400);
    expect(JSON.parse(binaryBody)).toEqual({
      code: 'invalid_argument',
      message: 'La solicitud no se pudo interpretar: revisá el formato y el tipo de cada campo.',
    });
    // Invalid UTF-8 in a string field (search = "a\xffb").
    const badUtf8 = await fetch(`${server.url}/lucy.task.v1.LogService/ListLogs`, {
      method: 'POST',
      headers: { 'content-type': 'application/proto', authorization: `Bearer ${TEST_TOKEN}` },
      body: Buffer.from([0x3a, 0x03, 0x61, 0xff, 0x62]), // field 7 (search), 3 bytes
    });
    expect(badUtf8.status).toBe(400);
    expect(await badUtf8.json()).toMatchObject({ code: 'invalid_argument' });

    // gRPC: a length-prefixed frame holding garbage; the status travels in the trailers.
    const session = http2Connect(server.url);
    try {
      const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
        const stream = session.request({
          [h2.HTTP2_HEADER_METHOD]: 'POST',
          [h2.HTTP2_HEADER_PATH]: '/lucy.task.v1.LogService/ListLogs',
          'content-type': 'application/grpc+json',
          te: 'trailers',
          authorization: `Bearer ${TEST_TOKEN}`,
        });
        let headers: Record<string, unknown> = {};
        stream.on('response', (h) => (headers = h));
        stream.on('trailers', (t: Record<string, unknown>) => resolve({ ...headers, ...t }));
        stream.on('end', () => resolve(headers));
        stream.on('error', reject);
        stream.resume();
        const data = Buffer.from(JSON.stringify({ search: { nested: echo } }));
        const frame = Buffer.alloc(5 + data.length);
        frame.writeUInt32BE(data.length, 1);
        data.copy(frame, 5);
        stream.end(frame);
      });
      expect(trailers['grpc-status']).toBe(String(Code.InvalidArgument));
      expect(decodeURIComponent(String(trailers['grpc-message']))).toBe(
        'La solicitud no se pudo interpretar: revisá el formato y el tipo de cada campo.',
      );
    } finally {
      session.close();
    }
  });
});
