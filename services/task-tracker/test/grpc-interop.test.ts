import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { TEST_TOKEN } from '@lucy/testkit';
import { startHarness, type TrackerHarness } from './helpers.js';

const PROTO_ROOT = fileURLToPath(new URL('../../../proto', import.meta.url));

type Unary = (
  req: object,
  md: grpc.Metadata,
  cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void,
) => void;
type AnyClient = grpc.Client & Record<string, Unary>;
type Ctor = new (address: string, creds: grpc.ChannelCredentials) => AnyClient;

describe('gRPC interop', () => {
  let h: TrackerHarness;
  let Health: Ctor;
  let TaskService: Ctor;

  beforeAll(async () => {
    h = await startHarness();
    const def = protoLoader.loadSync(['grpc/health/v1/health.proto', 'lucy/task/v1/task_service.proto'], {
      includeDirs: [PROTO_ROOT],
      longs: String,
      enums: String,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: Ctor } } };
      lucy: { task: { v1: { TaskService: Ctor } } };
    };
    Health = pkg.grpc.health.v1.Health;
    TaskService = pkg.lucy.task.v1.TaskService;
  });
  afterAll(async () => {
    await h?.close();
  });

  const call = (client: AnyClient, method: string, req: object, md = new grpc.Metadata()) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      client[method]!(req, md, (err, res) => (err ? reject(err) : resolve(res)));
    });

  it('answers grpc.health.v1 Check and TaskService.GetDashboard to a @grpc/grpc-js client over h2c', async () => {
    const address = `127.0.0.1:${h.tracker.rpc.port}`;
    const health = new Health(address, grpc.credentials.createInsecure());
    const tasks = new TaskService(address, grpc.credentials.createInsecure());
    try {
      expect(await call(health, 'Check', { service: '' })).toMatchObject({ status: 'SERVING' });
      expect(await call(health, 'Check', { service: 'lucy.task.v1.TaskService' })).toMatchObject({
        status: 'SERVING',
      });
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${TEST_TOKEN}`);
      const dashboard = await call(tasks, 'GetDashboard', {}, md);
      expect(dashboard).toMatchObject({ pendientes: '0', ejecutando: '0', recientes: [] });
      const denied = await call(tasks, 'GetDashboard', {}).catch((e: grpc.ServiceError) => e);
      expect((denied as grpc.ServiceError).code).toBe(grpc.status.UNAUTHENTICATED);
    } finally {
      health.close();
      tasks.close();
    }
  });
});
