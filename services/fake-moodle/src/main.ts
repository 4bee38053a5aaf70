/** Runs the Moodle fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { createFakeMoodle } from './fake-moodle.server.js';

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

const fake = await createFakeMoodle({
  port: intEnv('FAKE_MOODLE_PORT', 8089),
  host: process.env.FAKE_MOODLE_HOST || '127.0.0.1',
  token: process.env.FAKE_MOODLE_TOKEN || 'fake-moodle-token',
  debug: ['1', 'true', 'yes'].includes((process.env.FAKE_MOODLE_DEBUG ?? '').toLowerCase()),
  latencyMs: intEnv('FAKE_MOODLE_LATENCY_MS', 0),
  siteUrl: process.env.FAKE_MOODLE_SITE_URL || undefined,
});
// The token is a development value, but it is still a credential: say where it comes from, not what it is.
console.log(
  JSON.stringify({
    level: 'info',
    msg: 'fake Moodle listening',
    url: fake.url,
    restUrl: fake.restUrl,
    token: process.env.FAKE_MOODLE_TOKEN ? 'from FAKE_MOODLE_TOKEN' : 'default (see README)',
  }),
);

let closing = false;
const shutdown = (signal: string): void => {
  if (closing) return;
  closing = true;
  fake.close().then(
    () => {
      console.log(JSON.stringify({ level: 'info', msg: 'fake Moodle stopped', signal }));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(
        JSON.stringify({ level: 'error', msg: 'fake Moodle failed to stop', error: String(err) }),
      );
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
