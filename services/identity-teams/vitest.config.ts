import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The Graph fake's certificate is trusted through NODE_EXTRA_CA_CERTS, which Node reads only when a process
    // starts: the global setup sets it before the workers fork (forks, not threads).
    pool: 'forks',
    globalSetup: ['./vitest.global-setup.ts'],
  },
});
