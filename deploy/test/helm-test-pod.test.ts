// The `helm test` pod's script, taken from the rendered chart, run against a real RPC server of the platform (the
// one every service starts): it passes only when grpc.health.v1 answers SERVING and /readyz is ready.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { LogService } from '../../proto/src/index.js';
import { TEST_TOKEN, testLogger } from '../../services/testkit/src/index.js';
import { startRpcServer, type RpcServer } from '../../services/platform/src/index.js';
import { renderChart } from './helm.js';

interface Pod {
  kind: string;
  spec: { containers: Array<{ command: string[] }> };
}

function runScript(script: string, targets: { services: string[]; admin: string }) {
  return new Promise<{ status: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { PATH: process.env.PATH ?? '', TARGETS: JSON.stringify(targets) },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (status) => resolve({ status, output }));
  });
}

describe('helm test pod', () => {
  let script: string;
  let server: RpcServer;
  let admin: Server;
  let adminUrl: string;
  let databaseUp = true;

  beforeAll(async () => {
    const pod = parseAllDocuments(renderChart())
      .map((d) => d.toJS() as Pod | null)
      .find((m) => m?.kind === 'Pod')!;
    const command = pod.spec.containers[0]!.command;
    expect(command.slice(0, 2)).toEqual(['node', '-e']);
    script = command[2]!;
    server = await startRpcServer({
      port: 0,
      host: '127.0.0.1',
      metrics: false,
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
      routes: (router) => router.service(LogService, { listLogs: () => ({ logs: [] }) }),
    });
    admin = createServer((req, res) => {
      res.writeHead(req.url === '/readyz' ? 200 : 404).end('ok');
    });
    await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
    const address = admin.address();
    adminUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/readyz`;
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    admin?.close();
  });

  it('passes against a ready service that answers SERVING and a ready admin', async () => {
    databaseUp = true;
    const r = await runScript(script, { services: [`http://127.0.0.1:${server.port}`], admin: adminUrl });
    expect(r.output).toContain('SERVING');
    expect(r.status, r.output).toBe(0);
  });

  it('fails when a service is not ready', async () => {
    databaseUp = false;
    const r = await runScript(script, { services: [`http://127.0.0.1:${server.port}`], admin: '' });
    databaseUp = true;
    expect(r.status).toBe(1);
    // grpc.health answers NOT_SERVING while a dependency is down, before /readyz is even asked.
    expect(r.output).toMatch(/NOT_SERVING|not ready/);
  });

  it('fails when a service does not answer, or the admin is not ready', async () => {
    const gone = await runScript(script, { services: ['http://127.0.0.1:9'], admin: '' });
    expect(gone.status).toBe(1);
    const badAdmin = await runScript(script, {
      services: [`http://127.0.0.1:${server.port}`],
      admin: adminUrl.replace('/readyz', '/nope'),
    });
    expect(badAdmin.status).toBe(1);
    expect(badAdmin.output).toMatch(/404/);
  });
});
