/** Runs the Moodle fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { intEnv, runFake, stringEnv } from '@lucy/fake-kit';
import { createFakeMoodle } from './fake-moodle.server.js';

await runFake({
  name: 'Moodle',
  start: () =>
    createFakeMoodle({
      port: intEnv('FAKE_MOODLE_PORT', 8089),
      host: stringEnv('FAKE_MOODLE_HOST', '127.0.0.1'),
      token: stringEnv('FAKE_MOODLE_TOKEN', 'fake-moodle-token'),
      debug: ['1', 'true', 'yes'].includes(stringEnv('FAKE_MOODLE_DEBUG', '').toLowerCase()),
      latencyMs: intEnv('FAKE_MOODLE_LATENCY_MS', 0),
      siteUrl: stringEnv('FAKE_MOODLE_SITE_URL'),
    }),
  // The token is a development value, but it is still a credential: say where it comes from, not what it is.
  describe: (fake) => ({
    url: fake.url,
    restUrl: fake.restUrl,
    token: stringEnv('FAKE_MOODLE_TOKEN') ? 'from FAKE_MOODLE_TOKEN' : 'default (see README)',
  }),
});
