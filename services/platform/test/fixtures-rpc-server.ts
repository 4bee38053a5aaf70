// A real RPC server in its own process, so a test can measure the server's memory (on its /metrics port)
// apart from the client's. Options come as JSON in argv[2]; the listening ports are printed as one JSON line.
import { LogService } from '@lucy/proto';
import { createLogger, startRpcServer, type RpcServerOptions } from '../src/index.js';

const extra = JSON.parse(process.argv[2] ?? '{}') as Partial<RpcServerOptions>;
const server = await startRpcServer({
  port: 0,
  token: 'test-token-0123456789abcdef',
  logger: createLogger({ service: 'fixture', level: 'silent' }),
  services: [LogService],
  readiness: [],
  routes: (router) =>
    router.service(LogService, {
      async listLogs(req) {
        return { logs: [{ message: req.search.slice(0, 10) }] };
      },
    }),
  ...extra,
});
process.stdout.write(`${JSON.stringify({ url: server.url, metricsUrl: server.metricsUrl })}\n`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
