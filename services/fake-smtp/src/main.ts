/** Runs the SMTP sink and its HTTP API standalone (dev stack, demos). Configuration from env; see README.md. */
import { FakeConfigError, intEnv, runFake, stringEnv } from '@lucy/fake-kit';
import { createSmtpSinkApi } from './http-api.js';
import { createSmtpSink } from './smtp-sink.js';

const user = stringEnv('FAKE_SMTP_USER', '');
const password = stringEnv('FAKE_SMTP_PASSWORD', '');

await runFake({
  name: 'SMTP',
  start: async () => {
    if ((user === '') !== (password === '')) {
      throw new FakeConfigError('set both FAKE_SMTP_USER and FAKE_SMTP_PASSWORD, or neither');
    }
    const host = stringEnv('FAKE_SMTP_HOST', '127.0.0.1');
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
    return {
      sink,
      api,
      close: async () => {
        await Promise.all([api.close(), sink.close()]);
      },
    };
  },
  describe: ({ sink, api }) => ({
    smtp: `${sink.host}:${sink.port}`,
    http: api.url,
    auth: user ? 'required' : 'optional (any credentials)',
  }),
});
