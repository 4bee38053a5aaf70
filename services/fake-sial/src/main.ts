/** Runs the SIAL fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { createFakeSial } from './fake-sial.server.js';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(
      JSON.stringify({ level: 'error', msg: `${name} must be a non-negative integer`, value: raw }),
    );
    process.exit(2);
  }
  return value;
}

const size = intEnv('SIAL_FAKE_SIZE', 200);
const fake = await createFakeSial({
  port: intEnv('SIAL_FAKE_PORT', 8088),
  host: process.env.SIAL_FAKE_HOST || '127.0.0.1',
  user: process.env.SIAL_FAKE_USER || 'usuario',
  password: process.env.SIAL_FAKE_PASSWORD || 'contrasena',
  seed: intEnv('SIAL_FAKE_SEED', 1),
  sizes: { preinscriptos: size, aspirantes: size, ingresantes: size },
  latencyMs: intEnv('SIAL_FAKE_LATENCY_MS', 0),
});
console.log(JSON.stringify({ level: 'info', msg: 'fake SIAL listening', url: fake.url, sizePerTipo: size }));

let closing = false;
const shutdown = (signal: string): void => {
  if (closing) return;
  closing = true;
  fake.close().then(
    () => {
      console.log(JSON.stringify({ level: 'info', msg: 'fake SIAL stopped', signal }));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(JSON.stringify({ level: 'error', msg: 'fake SIAL failed to stop', error: String(err) }));
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
