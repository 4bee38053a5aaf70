import { mkdtempSync, rmSync } from 'node:fs';
import { request as http1 } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type ConnectRouter } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-node';
import { create, toBinary } from '@bufbuild/protobuf';
import { RedriveDeadLettersRequestSchema, TaskService } from '@lucy/proto';
import { TEST_TOKEN, testLogger, waitFor } from '../../testkit/src/index.js';
import {
  createApiKey,
  createRpcClient,
  startRpcServer,
  type RpcServer,
  type RpcServerOptions,
} from '../src/index.js';

// Named API keys and RPC_TOKEN_DISABLED attacked on a real RPC server: the shared token through every protocol
// and path once disabled, a flag value the server does not understand, requestedBy claimed by a system's key
// through every encoding and protocol, credentials with odd casing or sent twice.

let dir: string;
let file: string;
let strict: RpcServer;
let system: string;
let staff: string;

async function codeOf(p: Promise<unknown>): Promise<Code | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

const common = () =>
  ({
    port: 0,
    host: '127.0.0.1',
    token: TEST_TOKEN,
    logger: testLogger(),
    metrics: false as const,
    services: [TaskService],
    readiness: [],
    extraRoutes: { '/exports/demo.csv': (_req, res) => res.end('dni\n') },
    routes: (router: ConnectRouter) =>
      router.service(TaskService, {
        // Echoes who the Tarea would name.
        redriveDeadLetters: (req) => ({ results: [{ sequence: 1n, ok: true, error: req.requestedBy }] }),
        async *watchTareas() {
          yield {};
        },
      }),
  }) satisfies Partial<RpcServerOptions>;

async function withFlag<T>(value: string | undefined, f: () => Promise<T>): Promise<T> {
  const saved = process.env.RPC_TOKEN_DISABLED;
  if (value === undefined) delete process.env.RPC_TOKEN_DISABLED;
  else process.env.RPC_TOKEN_DISABLED = value;
  try {
    return await f();
  } finally {
    if (saved === undefined) delete process.env.RPC_TOKEN_DISABLED;
    else process.env.RPC_TOKEN_DISABLED = saved;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-apikeys-attack-'));
  file = join(dir, 'api-keys.json');
  system = createApiKey(file, 'guarani', ['lucy.task.v1.TaskService/*']).key;
  staff = createApiKey(file, 'admin-web', ['*'], new Date(), { onBehalfOf: true }).key;
  strict = await withFlag('1', () => startRpcServer({ ...common(), apiKeysFile: file }));
});

afterAll(async () => {
  await strict?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw HTTP/1.1 POST with the headers given as a flat list (so a header may be sent twice). */
function post(
  url: string,
  path: string,
  raw: string[],
  body: Buffer | string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { 'Connect-Protocol-Version': '1' };
    for (let i = 0; i < raw.length; i += 2) {
      const [name, value] = [raw[i]!, raw[i + 1]!];
      const had = headers[name];
      headers[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
    }
    const req = http1(`${url}${path}`, { method: 'POST', headers }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('RPC_TOKEN_DISABLED under attack', () => {
  it('refuses the shared token over Connect, gRPC, gRPC-web, GET, a server stream and the exports', async () => {
    const connect = createRpcClient(TaskService, { baseUrl: strict.url, token: TEST_TOKEN });
    const grpc = createRpcClient(TaskService, { baseUrl: strict.url, token: TEST_TOKEN, protocol: 'grpc' });
    const grpcWeb = createClient(
      TaskService,
      createGrpcWebTransport({
        baseUrl: strict.url,
        httpVersion: '1.1',
        interceptors: [
          (next) => (req) => (req.header.set('authorization', `Bearer ${TEST_TOKEN}`), next(req)),
        ],
      }),
    );
    for (const c of [connect, grpc, grpcWeb]) {
      expect(await codeOf(c.redriveDeadLetters({}))).toBe(Code.Unauthenticated);
      expect(
        await codeOf(
          (async () => {
            for await (const _ of c.watchTareas({})) break;
          })(),
        ),
      ).toBe(Code.Unauthenticated);
    }
    const get = await fetch(
      `${strict.url}/lucy.task.v1.TaskService/RedriveDeadLetters?encoding=json&message=%7B%7D&connect=v1`,
      { headers: { authorization: `Bearer ${TEST_TOKEN}` } },
    );
    expect(get.status).not.toBe(200); // 405: not an idempotent method, and never answered
    for (const path of ['/exports/demo.csv', '/exports/demo.csv?x=1', '//exports/demo.csv', '/nothing'])
      expect(
        (await fetch(`${strict.url}${path}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).status,
      ).toBe(401);
    // The named key still works on each protocol.
    expect(
      await codeOf(
        createRpcClient(TaskService, {
          baseUrl: strict.url,
          token: system,
          protocol: 'grpc',
        }).redriveDeadLetters({}),
      ),
    ).toBeUndefined();
  });

  it.each(['yes', 'on', ' 1', '1 ', 'TRUE ', 'si', 'enabled'])(
    'does not start with RPC_TOKEN_DISABLED=%j, a value it does not understand (it would keep the token on)',
    async (value) => {
      const start = withFlag(value, () => startRpcServer({ ...common(), apiKeysFile: file }));
      const code = await start.then(
        async (s) => {
          const c = await codeOf(
            createRpcClient(TaskService, { baseUrl: s.url, token: TEST_TOKEN }).redriveDeadLetters({}),
          );
          await s.close();
          return c === undefined ? 'the shared token worked' : 'refused';
        },
        (err: Error) => err.message,
      );
      expect(code).toMatch(/RPC_TOKEN_DISABLED/);
    },
  );

  it.each(['', '0', 'false', 'FALSE'])('keeps the shared token with RPC_TOKEN_DISABLED=%j', async (value) => {
    const s = await withFlag(value, () => startRpcServer({ ...common(), apiKeysFile: file }));
    try {
      expect(
        await codeOf(
          createRpcClient(TaskService, { baseUrl: s.url, token: TEST_TOKEN }).redriveDeadLetters({}),
        ),
      ).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});

describe('requestedBy claimed by a key that may not act for staff', () => {
  it('is recorded as the key through Connect JSON (either field spelling), binary, gRPC and gRPC-web', async () => {
    await waitFor(
      async () =>
        (await codeOf(
          createRpcClient(TaskService, { baseUrl: strict.url, token: system }).redriveDeadLetters({}),
        )) === undefined,
      {
        what: 'keys loaded',
        timeoutMs: 10_000,
      },
    );
    const path = '/lucy.task.v1.TaskService/RedriveDeadLetters';
    const auth = ['Authorization', `Bearer ${system}`];
    for (const body of [
      '{"requestedBy":"rector"}',
      '{"requested_by":"rector"}',
      '{"requestedBy":"rector","requested_by":"rector"}',
    ]) {
      const r = await post(strict.url, path, ['Content-Type', 'application/json', ...auth], body);
      // Connect answers 200 naming the key, or refuses the doubly spelled field; never names the claimed one.
      expect(`${body}: ${r.status} ${r.body}`).toMatch(/: (200 .*guarani|400 )/);
      expect(r.body).not.toContain('rector');
    }
    const bin = Buffer.from(
      toBinary(
        RedriveDeadLettersRequestSchema,
        create(RedriveDeadLettersRequestSchema, { requestedBy: 'rector' }),
      ),
    );
    const r = await post(strict.url, path, ['Content-Type', 'application/proto', ...auth], bin);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain('rector');
    expect(r.body).toContain('guarani');
    for (const protocol of ['grpc', 'connect'] as const) {
      const c = createRpcClient(TaskService, { baseUrl: strict.url, token: system, protocol });
      expect((await c.redriveDeadLetters({ requestedBy: 'rector' })).results[0]?.error).toBe('guarani');
    }
    // A staff key keeps the name it is given.
    const admin = createRpcClient(TaskService, { baseUrl: strict.url, token: staff });
    expect((await admin.redriveDeadLetters({ requestedBy: 'rector' })).results[0]?.error).toBe('rector');
  });

  it('is not passed off by header casing or a second Authorization header', async () => {
    const path = '/lucy.task.v1.TaskService/RedriveDeadLetters';
    const json = ['Content-Type', 'application/json'];
    const body = '{"requestedBy":"rector"}';
    // Scheme in other casing: refused (not read as the key, nor as the staff key).
    expect((await post(strict.url, path, [...json, 'authorization', `bearer ${staff}`], body)).status).toBe(
      401,
    );
    expect((await post(strict.url, path, [...json, 'AUTHORIZATION', `BEARER ${staff}`], body)).status).toBe(
      401,
    );
    // Two Authorization headers, the system's first then the staff key's: never the staff key's powers.
    for (const order of [
      [system, staff],
      [TEST_TOKEN, staff],
    ]) {
      const r = await post(
        strict.url,
        path,
        [...json, 'Authorization', `Bearer ${order[0]}`, 'Authorization', `Bearer ${order[1]}`],
        body,
      );
      expect(r.body).not.toContain('rector');
    }
  });
});
