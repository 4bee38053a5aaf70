import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { LogService, TaskService } from '@lucy/proto';
import { TEST_TOKEN, testLogger, waitFor } from '../../testkit/src/index.js';
import {
  createApiKey,
  createApiKeyStore,
  createRpcClient,
  readApiKeysFile,
  revokeApiKey,
  startRpcServer,
  type RpcServer,
  type RpcServerOptions,
} from '../src/index.js';

let dir: string;
let file: string;
let server: RpcServer;

async function codeOf(p: Promise<unknown>): Promise<{ code: Code | undefined; message: string }> {
  try {
    await p;
    return { code: undefined, message: '' };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-apikeys-'));
  file = join(dir, 'api-keys.json');
  server = await startRpcServer({
    port: 0,
    host: '127.0.0.1',
    token: TEST_TOKEN,
    apiKeysFile: file,
    logger: testLogger(),
    metrics: false,
    services: [TaskService, LogService],
    readiness: [],
    extraRoutes: {
      '/exports/demo.csv': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end('dni\n1\n');
      },
    },
    routes: (router) => {
      router.service(TaskService, {
        // Echoes who the Tarea would name, so the test sees what the handler received.
        async redriveDeadLetters(req) {
          return { results: [{ sequence: 1n, ok: true, error: req.requestedBy }] };
        },
      });
      router.service(LogService, {
        async listLogs() {
          return { logs: [] };
        },
      });
    },
  });
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const clients = (token: string) => ({
  tasks: createRpcClient(TaskService, { baseUrl: server.url, token }),
  logs: createRpcClient(LogService, { baseUrl: server.url, token }),
});

describe('named RPC API keys', () => {
  it('stores only a hash of each key', () => {
    const { key, record } = createApiKey(file, 'sis', ['lucy.task.v1.TaskService/*']);
    expect(key).toMatch(/^lk_[a-z0-9]+_[A-Za-z0-9_-]{43}$/);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(key.split('_').pop());
    expect(record.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readApiKeysFile(file).map((k) => k.name)).toContain('sis');
  });

  it('lets a key call what it is granted, naming the caller when the request names no one', async () => {
    const { key } = createApiKey(file, 'guarani', ['lucy.task.v1.TaskService/RedriveDeadLetters']);
    const { tasks } = clients(key);
    await waitFor(async () => (await codeOf(tasks.redriveDeadLetters({}))).code === undefined, {
      what: 'the new key accepted',
      timeoutMs: 10_000,
    });
    expect((await tasks.redriveDeadLetters({ sequences: [1n] })).results[0]?.error).toBe('guarani');
    // A key not allowed to act for staff cannot claim a staff member's name: it is recorded as itself.
    expect((await tasks.redriveDeadLetters({ requestedBy: 'maria' })).results[0]?.error).toBe('guarani');
  });

  it('lets only a key allowed to act for staff (the admin, the CLI) name a staff member as the requester', async () => {
    const { key, record } = createApiKey(
      file,
      'admin-web',
      ['lucy.task.v1.TaskService/RedriveDeadLetters'],
      new Date(),
      { onBehalfOf: true },
    );
    expect(record.onBehalfOf).toBe(true);
    expect(readApiKeysFile(file).find((k) => k.id === record.id)?.onBehalfOf).toBe(true);
    const { tasks } = clients(key);
    await waitFor(async () => (await codeOf(tasks.redriveDeadLetters({}))).code === undefined, {
      what: 'the new key accepted',
      timeoutMs: 10_000,
    });
    expect((await tasks.redriveDeadLetters({ requestedBy: 'maria' })).results[0]?.error).toBe('maria');
    expect((await tasks.redriveDeadLetters({})).results[0]?.error).toBe('admin-web');
    // The shared token (development) names whoever it says, as before.
    expect(
      (await clients(TEST_TOKEN).tasks.redriveDeadLetters({ requestedBy: 'maria' })).results[0]?.error,
    ).toBe('maria');
  });

  it('refuses a method outside the grant with PERMISSION_DENIED naming the method', async () => {
    const { key } = createApiKey(file, 'moodle-plugin', ['lucy.task.v1.TaskService/RedriveDeadLetters']);
    const { logs } = clients(key);
    const r = await waitFor(
      async () => {
        const c = await codeOf(logs.listLogs({}));
        return c.code === Code.PermissionDenied ? c : undefined;
      },
      { what: 'permission denied', timeoutMs: 10_000 },
    );
    expect(r.message).toBe(
      'La clave de acceso «moodle-plugin» no tiene permiso para llamar a lucy.task.v1.LogService/ListLogs.',
    );
    // Extra routes (exports) need the token or a key granted everything.
    const csv = await fetch(`${server.url}/exports/demo.csv`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(csv.status).toBe(401);
  });

  it('rotates without a restart: a new key works, a revoked one stops working', async () => {
    const old = createApiKey(file, 'scripts-it', ['*']);
    const { logs: oldLogs } = clients(old.key);
    await waitFor(async () => (await codeOf(oldLogs.listLogs({}))).code === undefined, {
      what: 'the old key accepted',
      timeoutMs: 10_000,
    });
    const fresh = createApiKey(file, 'scripts-it', ['*']);
    expect(revokeApiKey(file, old.record.id)).toBe(true);
    await waitFor(async () => (await codeOf(oldLogs.listLogs({}))).code === Code.Unauthenticated, {
      what: 'the revoked key refused',
      timeoutMs: 10_000,
    });
    expect((await codeOf(clients(fresh.key).logs.listLogs({}))).code).toBeUndefined();
    const csv = await fetch(`${server.url}/exports/demo.csv`, {
      headers: { authorization: `Bearer ${fresh.key}` },
    });
    expect(csv.status).toBe(200);
  });

  it('refuses unknown, tampered and malformed keys', async () => {
    const { key } = createApiKey(file, 'otro', ['*']);
    const { logs } = clients(key);
    await waitFor(async () => (await codeOf(logs.listLogs({}))).code === undefined, {
      what: 'the key accepted',
      timeoutMs: 10_000,
    });
    const tampered = `${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`;
    expect((await codeOf(clients(tampered).logs.listLogs({}))).code).toBe(Code.Unauthenticated);
    expect((await codeOf(clients('lk_nope').logs.listLogs({}))).code).toBe(Code.Unauthenticated);
  });

  it('refuses the shared token when RPC_TOKEN_DISABLED is set, and needs a keys file for it', async () => {
    const own = join(dir, 'disabled.json');
    const { key } = createApiKey(own, 'sis', ['*']);
    const common = {
      port: 0,
      host: '127.0.0.1',
      token: TEST_TOKEN,
      logger: testLogger(),
      metrics: false as const,
      services: [LogService],
      readiness: [],
      routes: (router: ConnectRouter) => router.service(LogService, { listLogs: () => ({ logs: [] }) }),
    } satisfies Partial<RpcServerOptions>;
    const extraRoutes: RpcServerOptions['extraRoutes'] = {
      '/exports/demo.csv': (_req, res) => {
        res.end('dni\n');
      },
    };
    await expect(startRpcServer({ ...common, extraRoutes, tokenDisabled: true })).rejects.toThrow(
      /RPC_TOKEN_DISABLED needs RPC_API_KEYS_FILE/,
    );
    const saved = process.env.RPC_TOKEN_DISABLED;
    process.env.RPC_TOKEN_DISABLED = '1';
    const strict = await startRpcServer({ ...common, extraRoutes, apiKeysFile: own }).finally(() => {
      if (saved === undefined) delete process.env.RPC_TOKEN_DISABLED;
      else process.env.RPC_TOKEN_DISABLED = saved;
    });
    try {
      const logs = (token: string) => createRpcClient(LogService, { baseUrl: strict.url, token });
      expect((await codeOf(logs(TEST_TOKEN).listLogs({}))).code).toBe(Code.Unauthenticated);
      expect((await codeOf(logs(key).listLogs({}))).code).toBeUndefined();
      const csv = (token: string) =>
        fetch(`${strict.url}/exports/demo.csv`, { headers: { authorization: `Bearer ${token}` } });
      expect((await csv(TEST_TOKEN)).status).toBe(401);
      expect((await csv(key)).status).toBe(200);
    } finally {
      await strict.close();
    }
    // Without the flag (the development default) the shared token still works.
    expect((await codeOf(clients(TEST_TOKEN).logs.listLogs({}))).code).toBeUndefined();
  });

  it('keeps the keys last read when an edit breaks the file, and says so', () => {
    const own = join(dir, 'store.json');
    const { key } = createApiKey(own, 'sis', ['*']);
    const errors: unknown[] = [];
    const store = createApiKeyStore(own, { recheckMs: 0, onError: (e) => errors.push(e) });
    expect(store.authenticate(key)?.name).toBe('sis');
    writeFileSync(own, '{ "keys": [ broken');
    expect(store.authenticate(key)?.name).toBe('sis');
    expect(errors).toHaveLength(1);
    writeFileSync(own, JSON.stringify({ keys: [] }));
    expect(store.authenticate(key)).toBeUndefined();
  });

  it('keeps the shared RPC_TOKEN working for everything (the development default)', async () => {
    const { tasks, logs } = clients(TEST_TOKEN);
    expect((await codeOf(logs.listLogs({}))).code).toBeUndefined();
    expect((await tasks.redriveDeadLetters({})).results[0]?.error).toBe('');
  });
});
