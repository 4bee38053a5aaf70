// Bundles the lucy CLI (src/main.ts with @lucy/proto and its npm dependencies) into one ESM file, dist/lucy.mjs,
// so a call starts in plain Node in well under 300 ms instead of compiling TypeScript through tsx each time.
// Used by bin/lucy.js (on demand, when the bundle is missing or older than a source) and scripts/build.mjs.
import { existsSync, readdirSync, renameSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(cli, '..', '..');
export const BUNDLE = join(cli, 'dist', 'lucy.mjs');
/** Every folder whose TypeScript ends up in the bundle. */
const SOURCES = [join(cli, 'src'), join(root, 'proto', 'src')];

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** True when the bundle is missing or a source changed after it was built. */
export function bundleIsStale() {
  if (!existsSync(BUNDLE)) return true;
  const built = statSync(BUNDLE).mtimeMs;
  // The lockfile stands for the bundled npm dependencies: an upgrade rebuilds too.
  const lock = join(root, 'pnpm-lock.yaml');
  if (existsSync(lock) && statSync(lock).mtimeMs > built) return true;
  return SOURCES.some((dir) => existsSync(dir) && newestMtime(dir) > built);
}

/** Builds dist/lucy.mjs (atomically: concurrent calls each write a temporary file and rename it). */
export async function bundleCli() {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [join(cli, 'src', 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: BUNDLE,
    sourcemap: false,
    minify: true,
    keepNames: true,
    logLevel: 'warning',
    // CommonJS dependencies (commander) call require() for Node's built-ins, which an ESM file lacks.
    banner: {
      js: "import { createRequire as __lucyRequire } from 'node:module';\nconst require = __lucyRequire(import.meta.url);",
    },
  });
  mkdirSync(dirname(BUNDLE), { recursive: true });
  const tmp = `${BUNDLE}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, BUNDLE);
}
