import { defineConfig } from 'vitest/config';

// Server modules are tested against the real Postgres; test/e2e drives the built admin in headless Chromium
// against a real task-tracker, NATS and Postgres. The global setup builds the admin and finds (or installs)
// Chromium once per run.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 240_000,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
  },
});
