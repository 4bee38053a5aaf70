#!/usr/bin/env node
// Compiles every runtime package's TypeScript sources (src/**/*.ts, tests excluded) to JavaScript in its dist/,
// one file per source file (no bundling), with source maps. Production processes run the output with
// `node --conditions=lucy-dist <package>/dist/main.js`: the `lucy-dist` export condition of each workspace
// package points at dist/, every other resolution (tsx in development, vitest, tsc) at src/.
// Type checking is not done here: `npm run check` (tsc per package) does it. The CLI is bundled besides (below).
import { existsSync, readdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Packages that production processes load: proto and every service (testkit, bench and web are not). */
const RUNTIME_PACKAGES = [
  'proto',
  ...readdirSync(join(root, 'services'))
    .filter((d) => d !== 'testkit' && existsSync(join(root, 'services', d, 'src')))
    .sort()
    .map((d) => `services/${d}`),
];

async function sources(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts'))
      out.push(path);
  }
  return out;
}

const started = Date.now();
let files = 0;
for (const pkg of RUNTIME_PACKAGES) {
  const dir = join(root, pkg);
  const src = join(dir, 'src');
  const entryPoints = await sources(src);
  await rm(join(dir, 'dist'), { recursive: true, force: true });
  await build({
    entryPoints,
    outdir: join(dir, 'dist'),
    outbase: src,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  files += entryPoints.length;
  console.log(`built ${relative(root, dir)}/dist (${entryPoints.length} files)`);
}
// The lucy CLI also gets one bundled file: a call then starts in plain Node, without resolving workspace packages
// (bin/lucy.js builds the same bundle on demand in a checkout).
const { bundleCli, BUNDLE } = await import('../services/cli/scripts/bundle.mjs');
await bundleCli();
console.log(`built ${relative(root, BUNDLE)} (the CLI, bundled)`);
console.log(`build: ${files} files in ${Date.now() - started} ms`);
