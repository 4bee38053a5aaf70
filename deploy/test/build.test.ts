// The compiled build production runs (scripts/build.mjs → services/<name>/dist, deploy/lucy-run): every service
// entry loads its whole module graph from dist/ without the TypeScript loader.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const services = readdirSync(join(root, 'services')).filter((d) =>
  existsSync(join(root, 'services', d, 'src', 'main.ts')),
);

describe('compiled build', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'pipe' });
  }, 60_000);

  /** What each entry must say when started with a broken configuration (or, for the CLI, asked for help). */
  interface Probe {
    env: Record<string, string>;
    args?: string[];
    status: number;
    says: RegExp;
  }
  const probe: Record<string, Probe> = {
    'fake-sial': { env: { SIAL_FAKE_PORT: 'no-es-un-puerto' }, status: 2, says: /SIAL_FAKE_PORT/ },
    'fake-graph': { env: { FAKE_GRAPH_PORT: 'no-es-un-puerto' }, status: 2, says: /FAKE_GRAPH_PORT/ },
    'fake-moodle': { env: { FAKE_MOODLE_PORT: 'no-es-un-puerto' }, status: 2, says: /FAKE_MOODLE_PORT/ },
    'fake-smtp': { env: { FAKE_SMTP_PORT: 'no-es-un-puerto' }, status: 2, says: /FAKE_SMTP_PORT/ },
    cli: { env: {}, args: ['--help'], status: 0, says: /alumnos/ },
  };
  const serviceProbe: Probe = {
    env: { RPC_PORT: 'no-es-un-puerto' },
    status: 78,
    says: /Invalid configuration: .*RPC_PORT/,
  };

  it.each(services)('%s: dist/main.js loads its whole module graph from dist', (service) => {
    const dir = join(root, 'services', service);
    expect(existsSync(join(dir, 'dist', 'main.js'))).toBe(true);
    expect(readdirSync(join(dir, 'dist'), { recursive: true }).map(String)).not.toContainEqual(
      expect.stringMatching(/\.test\.js$/),
    );
    const { env, args = [], status, says } = probe[service] ?? serviceProbe;
    const result = spawnSync(
      process.execPath,
      ['--conditions=lucy-dist', '--enable-source-maps', 'dist/main.js', ...args],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 },
    );
    const output = `${result.stdout}${result.stderr}`;
    expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|ERR_UNKNOWN_FILE_EXTENSION|SyntaxError/);
    expect(output).toMatch(says);
    expect(result.status, output).toBe(status);
  });
});
