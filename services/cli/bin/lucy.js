#!/usr/bin/env -S node --max-semi-space-size=4
// A small young generation (the flag above and in the root package.json's `lucy` script): the CLI streams (an
// adoption moves 750,000 rows through a few batches in flight), and V8's default 16 MB semi-spaces let the heap
// swell between scavenges — 40-60 MB of peak RSS for nothing (docs/benchmarks.md, "adoption of pylucy").
// Runs the lucy CLI from its bundle (dist/lucy.mjs), built on demand with esbuild when missing or older than a
// source, so `npm run -s lucy` works straight from the workspace and starts fast. Without esbuild (a bare
// install), it falls back to running the TypeScript through tsx.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUNDLE, bundleCli, bundleIsStale } from '../scripts/bundle.mjs';

const here = dirname(fileURLToPath(import.meta.url));
let bundled = true;
if (bundleIsStale()) {
  try {
    await bundleCli();
  } catch (err) {
    if (process.env.LUCY_DEBUG) process.stderr.write(`lucy: bundling failed (${err.message}); using tsx\n`);
    bundled = false;
  }
}
if (bundled) {
  await import(pathToFileURL(BUNDLE).href);
} else {
  const require = createRequire(import.meta.url);
  const tsx = join(dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');
  // The child runs the CLI, so it gets this process's heap flags (the shebang's, or the npm script's) — not the
  // others (an --inspect would find its port taken).
  const heapFlags = process.execArgv.filter((a) => /^--max-(semi|old)-space-size=/.test(a));
  const r = spawnSync(
    process.execPath,
    [...heapFlags, tsx, join(here, '..', 'src', 'main.ts'), ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(r.status ?? 1);
}
