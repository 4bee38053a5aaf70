/** Runs the SMTP sink and its HTTP API standalone (dev stack, demos). Configuration from env; see README.md. */
import { createSmtpSinkApi } from './http-api.js';
import { createSmtpSink } from './smtp-sink.js';

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

const user = process.env.FAKE_SMTP_USER ?? '';
const password = process.env.FAKE_SMTP_PASSWORD ?? '';
if ((user === '') !== (password === '')) {
  console.error(
    JSON.stringify({ level: 'error', msg: 'set both FAKE_SMTP_USER and FAKE_SMTP_PASSWORD, or neither' }),
  );
  process.exit(2);
}
const host = process.env.FAKE_SMTP_HOST || '127.0.0.1';

const sink = await createSmtpSink({
  port: intEnv('FAKE_SMTP_PORT', 1025),
  host,
  auth: user ? { user, password } : undefined,
  sizeLimit: intEnv('FAKE_SMTP_SIZE_LIMIT', 10 * 1024 * 1024),
  maxMessages: intEnv('FAKE_SMTP_MAX_MESSAGES', 500),
  // Entries carry ids, addresses, subjects and codes only: a credentials e-mail's body holds a password.
  logger: (entry) => console.log(JSON.stringify(entry)),
});
const api = await createSmtpSinkApi({ sink, port: intEnv('FAKE_SMTP_HTTP_PORT', 8025), host });
console.log(
  JSON.stringify({
    level: 'info',
    msg: 'fake SMTP listening',
    smtp: `${sink.host}:${sink.port}`,
    http: api.url,
    auth: user ? 'required' : 'optional (any credentials)',
  }),
);

let closing = false;
const shutdown = (signal: string): void => {
  if (closing) return;
  closing = true;
  Promise.all([api.close(), sink.close()]).then(
    () => {
      console.log(JSON.stringify({ level: 'info', msg: 'fake SMTP stopped', signal }));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(JSON.stringify({ level: 'error', msg: 'fake SMTP failed to stop', error: String(err) }));
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
