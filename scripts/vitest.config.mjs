import { defineConfig } from 'vitest/config';

// Tests of the repository's own scripts (plain Node, no package of their own).
export default defineConfig({
  test: { name: 'scripts', include: ['test/**/*.test.mjs'], testTimeout: 30_000 },
});
