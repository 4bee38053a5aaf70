import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus, LogService } from '@lucy/proto';
import { TEST_TOKEN, testLogger } from '../../testkit/src/index.js';
import {
  createRpcClient,
  NotFoundError,
  startRpcServer,
  ValidationError,
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
            return { logs: [] };
          },
        }),
    });
  });
  afterAll(() => server.close());

  it('serves /healthz, /readyz and /metrics over HTTP/1.1', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, checks: { database: 'ok' } });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });

  it('reports not ready, naming the dependency, when a check fails', async () => {
    databaseUp = false;
    try {
      const r = await fetch(`${server.url}/readyz`);
      expect(r.status).toBe(503);
      expect(await r.json()).toEqual({ ok: false, checks: { database: 'connection refused' } });
      const health = createRpcClient(Health, { baseUrl: server.url, token: '' });
      expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    } finally {
      databaseUp = true;
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
});
