import { defineConfig } from 'vitest/config';

// One run over every package; each keeps its own vitest.config.ts (timeouts, include patterns).
// Globs, so packages that do not exist yet (the admin under web/) join when they get a config.
export default defineConfig({
  test: {
    projects: [
      'services/*/vitest.config.ts',
      'deploy/vitest.config.ts',
      '{web,bench}/vitest.config.ts',
      'scripts/vitest.config.mjs',
      'faults/vitest.config.ts',
    ],
  },
});
