import { defineConfig } from 'vitest/config';

// One run over every package; each keeps its own vitest.config.ts (timeouts, include patterns).
export default defineConfig({
  test: {
    projects: [
      'services/*/vitest.config.ts',
      'web/vitest.config.ts',
      'bench/vitest.config.ts',
      'deploy/vitest.config.ts',
    ],
  },
});
