// Set-up stops on failure: `npm run up` and `npm test` run `install_dependencies` (scripts/lib.sh), which must stop
// on pnpm's exit status even though its output goes through `grep`; and the pnpm put under .tools/ must match
// the sha512 pinned in package.json. Each case runs the real scripts in a temporary copy.
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const packageManager = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
// The pnpm the test command runs with: ensure_pnpm exports it as PNPM (a pnpm of the pinned version already on
// PATH, or the one it put under .tools/).
const pnpm = process.env.PNPM || join(root, '.tools', 'node_modules', '.bin', 'pnpm');
// The repository's pnpm first on PATH, as ensure_pnpm finds it.
const env = pnpm.includes('/')
  ? { ...process.env, PATH: `${dirname(pnpm)}:${process.env.PATH}` }
  : { ...process.env };

function project(extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lucy-install-'));
  mkdirSync(join(dir, 'scripts'));
  for (const f of ['lib.sh', 'up.sh', 'test.sh'])
    copyFileSync(join(root, 'scripts', f), join(dir, 'scripts', f));
  // What would run after a good install: each leaves a mark.
  writeFileSync(
    join(dir, 'scripts', 'dev.mjs'),
    "import { writeFileSync } from 'node:fs'; writeFileSync('started-up', '');\n",
  );
  writeFileSync(join(dir, 'scripts', 'infra.sh'), 'touch started-infra\n');
  writeFileSync(join(dir, 'scripts', 'check.sh'), 'touch started-check\n');
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'lucy-install-test', private: true, packageManager, ...extra }),
  );
  return dir;
}

// pnpm is started for real (twice per case): on a loaded machine one start can take tens of seconds, so each run
// gets 100 s and each case 240 s (spawnSync blocks, so only the spawn's own timeout can end a hung child).
const run = (dir, script) => {
  const r = spawnSync('bash', [`scripts/${script}`], { cwd: dir, env, encoding: 'utf8', timeout: 100_000 });
  if (r.status === null)
    throw new Error(`scripts/${script} was stopped by ${r.signal} after 100 s:\n${r.stderr}${r.stdout}`);
  return r;
};

describe('set-up scripts', () => {
  let dir;
  beforeAll(() => {
    dir = project();
    // A lockfile that matches the package as it is now.
    const r = spawnSync(pnpm, ['install', '--lockfile-only', '--reporter=append-only'], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    expect(r.status, `${r.error ?? ''}${r.signal ?? ''}${r.stderr}${r.stdout}`).toBe(0);
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('goes on after a good install', () => {
    const r = run(dir, 'up.sh');
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'started-up'))).toBe(true);
  }, 240_000);

  it('stops npm run up and npm test when pnpm install fails (lockfile out of date), starting nothing', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ ...pkg, dependencies: { 'is-number': '7.0.0' } }),
    );
    for (const f of ['started-up', 'started-infra', 'started-check']) rmSync(join(dir, f), { force: true });
    for (const script of ['up.sh', 'test.sh']) {
      const r = run(dir, script);
      expect(r.status, script).not.toBe(0);
      expect(r.stderr).toContain('pnpm install failed');
    }
    for (const f of ['started-up', 'started-infra', 'started-check'])
      expect(existsSync(join(dir, f)), f).toBe(false);
  }, 240_000);

  it('installs pnpm under .tools only when its tarball matches the sha512 in package.json', () => {
    const wrong = project({
      packageManager: packageManager.replace(/sha512\.[0-9a-f]{8}/, 'sha512.00000000'),
    });
    try {
      const r = spawnSync(
        'bash',
        ['-c', 'source scripts/lib.sh && install_pnpm_verified && echo installed'],
        {
          cwd: wrong,
          encoding: 'utf8',
        },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('does not match');
      expect(r.stdout).not.toContain('installed');
      expect(existsSync(join(wrong, '.tools', 'node_modules', '.bin', 'pnpm'))).toBe(false);
    } finally {
      rmSync(wrong, { recursive: true, force: true });
    }
    const right = project();
    try {
      const r = spawnSync(
        'bash',
        ['-c', 'source scripts/lib.sh && install_pnpm_verified && .tools/node_modules/.bin/pnpm --version'],
        {
          cwd: right,
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n').at(-1)).toBe(
        packageManager.replace(/^pnpm@/, '').replace(/\+.*/, ''),
      );
    } finally {
      rmSync(right, { recursive: true, force: true });
    }
  }, 120_000);
});
