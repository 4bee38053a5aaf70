import { defineConfig } from 'vitest/config';

// The short fault run (src/faults.test.ts) starts its own NATS, Postgres, fakes and every service: one file, a
// generous bound (it takes about 4 minutes on a loaded 2-core machine).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
