import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // NODE_EXTRA_CA_CERTS (set by the global setup) only works in a fresh process: forks, not threads.
    pool: 'forks',
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
