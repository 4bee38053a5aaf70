// The worker process of bench/pipeline.bench.ts: one command worker built on the platform library exactly as the
// services' workers are (createCommandWorker: consumer runner, outcomes bucket, reporter, DLQ), handling the
// registered task `alumnos.tasks.enviar_email_credenciales` with a handler that does nothing, so what is measured
// is the pipeline itself. Prints `ready` on stdout once it pulls; stops on SIGTERM.
//
// Environment: NATS_URL, LUCY_PREFIX, CONCURRENCY (slots; default 64), WORKER_ID.
import { EnviarEmailCommandSchema } from '@lucy/proto';
import { connectNats, createCommandWorker, createLogger, createNames } from '@lucy/platform';

const logger = createLogger({ service: 'bench-worker', level: (process.env.LOG_LEVEL ?? 'warn') as 'warn' });
const nats = await connectNats(
  { NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' },
  logger,
  'bench-worker',
);
const names = createNames(process.env.LUCY_PREFIX ?? '');
const worker = createCommandWorker({
  js: nats.js,
  jsm: nats.jsm,
  names,
  logger,
  durable: 'bench-pipeline_enviar_email',
  subject: 'lucy.cmd.notify.enviar_email',
  taskType: 'alumnos.tasks.enviar_email_credenciales',
  schema: EnviarEmailCommandSchema,
  worker: process.env.WORKER_ID ?? `bench-worker/${process.pid}`,
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  handle: async () => ({ cantidadEntidades: 1 }),
});
await worker.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => nats.nc.drain())
    .finally(() => process.exit(0));
});
