// Once per test run: Chromium for the browser tests (installed with apt when absent and running as root) and a
// build of the admin that is newer than every source file (the browser tests drive the adapter-node output).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = fileURLToPath(new URL('..', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  if (!existsSync(CHROMIUM) && process.getuid?.() === 0) {
    console.log('[web tests] installing chromium with apt-get');
    const apt = (args: string[]) =>
      execFileSync('apt-get', args, {
        stdio: 'inherit',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
    try {
      apt(['install', '-y', '--no-install-recommends', 'chromium']);
    } catch {
      // A fresh machine has no package lists yet.
      apt(['update']);
      apt(['install', '-y', '--no-install-recommends', 'chromium']);
    }
  }
  // Two test runs in one checkout must not build at once: their outputs would mix in build/ (pages whose
  // scripts belong to another build do not hydrate). The second waits, then finds the build fresh.
  withBuildLock(() => buildIfStale());
}

const LOCK = join(
  tmpdir(),
  `lucy-web-build-${createHash('sha256').update(WEB).digest('hex').slice(0, 12)}.lock`,
);

function withBuildLock(fn: () => void): void {
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock left by a killed run is stale after 10 minutes (a build takes about one).
      if (Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 10 * 60_000)
        rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Another test run holds ${LOCK}; remove it if none runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function buildIfStale(): void {
  const built = join(WEB, 'build', 'handler.js');
  const sources = Math.max(
    newest(join(WEB, 'src')),
    ...['svelte.config.js', 'vite.config.ts', 'package.json'].map((f) => statSync(join(WEB, f)).mtimeMs),
  );
  if (!existsSync(built) || statSync(built).mtimeMs < sources) {
    console.log('[web tests] building the admin (vite build)');
    execFileSync(process.execPath, [join(WEB, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'], {
      cwd: WEB,
      stdio: 'inherit',
    });
  }
}
