/** Runs the SIAL fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { intEnv, runFake, stringEnv } from '@lucy/fake-kit';
import { createFakeSial } from './fake-sial.server.js';

await runFake({
  name: 'SIAL',
  start: async () => {
    const size = intEnv('SIAL_FAKE_SIZE', 200);
    const fake = await createFakeSial({
      port: intEnv('SIAL_FAKE_PORT', 8088),
      host: stringEnv('SIAL_FAKE_HOST', '127.0.0.1'),
      user: stringEnv('SIAL_FAKE_USER', 'usuario'),
      password: stringEnv('SIAL_FAKE_PASSWORD', 'contrasena'),
      seed: intEnv('SIAL_FAKE_SEED', 1),
      sizes: { preinscriptos: size, aspirantes: size, ingresantes: size },
      latencyMs: intEnv('SIAL_FAKE_LATENCY_MS', 0),
    });
    // The size is kept for the start line, not read from the env again.
    return { url: fake.url, sizePerTipo: size, close: () => fake.close() };
  },
  describe: (fake) => ({ url: fake.url, sizePerTipo: fake.sizePerTipo }),
});
