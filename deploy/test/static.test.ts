// No Docker engine runs here, so docker-compose.yml, the Dockerfile and lucy-run are checked statically against
// the tree (the chart is rendered by helm in chart.test.ts; variables are compared in config.test.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const runnable = readdirSync(join(root, 'services')).filter(
  (d) => existsSync(join(root, 'services', d, 'src', 'main.ts')) && !d.startsWith('fake-') && d !== 'cli',
);
const hasWeb = existsSync(join(root, 'web', 'package.json'));

type Compose = {
  services: Record<
    string,
    {
      environment?: Record<string, string>;
      command?: string[];
      healthcheck?: unknown;
      profiles?: string[];
      depends_on?: Record<string, { condition: string }>;
      volumes?: string[];
      ports?: string[];
    }
  >;
  volumes?: Record<string, unknown>;
};

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
  const apps = [...runnable, ...(hasWeb ? ['web'] : [])];

  it('runs NATS with JetStream on a volume and PostgreSQL on a volume, both with health checks', () => {
    const nats = compose.services.nats!;
    expect(nats.healthcheck).toBeDefined();
    expect(JSON.stringify(nats)).toContain('-js');
    expect(nats.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    const pg = compose.services.postgres!;
    expect(pg.healthcheck).toBeDefined();
    expect(pg.volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data'))).toBe(true);
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining(['nats-data', 'pg-data']));
  });

  it('runs every service of the tree and the admin, each with a readiness check and a distinct port', () => {
    const ports = new Set<string>();
    for (const name of apps) {
      const svc = compose.services[name];
      expect(svc, `${name} missing from docker-compose.yml`).toBeDefined();
      expect(svc!.healthcheck, `${name} has no healthcheck`).toBeDefined();
      const port = svc!.environment?.RPC_PORT ?? svc!.environment?.PORT;
      expect(port, name).toMatch(/^\d+$/);
      expect(ports.has(port!), `${name} reuses port ${port}`).toBe(false);
      ports.add(port!);
      if (name !== 'web') expect(svc!.environment?.SERVICE).toBe(name);
    }
  });

  it('starts each service only once NATS and Postgres are healthy and the migration has completed', () => {
    for (const name of apps) {
      const deps = compose.services[name]!.depends_on ?? {};
      expect(deps.postgres?.condition, name).toBe('service_healthy');
      expect(deps.migrate?.condition, name).toBe('service_completed_successfully');
      if (name !== 'web') expect(deps.nats?.condition, name).toBe('service_healthy');
    }
    expect(compose.services.migrate!.depends_on?.postgres?.condition).toBe('service_healthy');
  });

  it('migrates every service with migrations and the admin, through the compiled entry points', () => {
    const script = (compose.services.migrate?.command ?? []).join(' ');
    expect(script).toContain('/app/services/$$s/dist/migrate.js');
    expect(script).toContain('/app/deploy/lucy-run $$s migrate');
    expect(script).toContain('/app/deploy/lucy-run web migrate');
    expect(script).not.toMatch(/\btsx\b/);
  });

  it('makes containers listen on every interface, the host reach decided by ports', () => {
    for (const name of runnable) {
      expect(compose.services[name]!.environment?.RPC_HOST, name).toBe('0.0.0.0');
    }
  });

  it('publishes every port on the host loopback only', () => {
    const published = Object.entries(compose.services).flatMap(([name, svc]) =>
      (svc.ports ?? []).map((p) => [name, String(p)] as const),
    );
    expect(published.length).toBeGreaterThanOrEqual(apps.length);
    for (const [name, port] of published) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
  });

  it("gives no credential a default, so the fakes' never reach a real system", () => {
    const text = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    const defaulted = [
      ...text.matchAll(/^\s+([A-Z_]*(?:SECRET|PASSWORD|TOKEN|USER|KEYS?)): \$\{\1:-([^}]*)\}/gm),
    ]
      // The bundled Postgres is reachable only inside the compose network.
      .filter((m) => m[1] !== 'POSTGRES_PASSWORD' && m[2] !== '')
      .map((m) => m[1]);
    expect(defaulted).toEqual([]);
    expect(text).toContain('SIAL_USER: ${SIAL_USER:?');
  });

  it('keeps the fakes behind the demo profile', () => {
    const fakes = Object.keys(compose.services).filter((n) => n.startsWith('fake-'));
    expect(fakes.length).toBeGreaterThanOrEqual(4);
    for (const name of fakes) expect(compose.services[name]!.profiles, name).toContain('demo');
  });
});

describe('Dockerfile', () => {
  const df = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');

  it('builds one image on Node 20 that runs as a fixed non-root user and picks the service by SERVICE', () => {
    expect(df).toMatch(/^FROM node:20/m);
    expect(df).toMatch(/^USER 10001$/m);
    expect(df).toContain('useradd -r -u 10001');
    expect(df).toContain('/app/deploy/lucy-run \\"$SERVICE\\" main');
    expect(df).toContain('node scripts/build.mjs');
    expect(df).toMatch(/pnpm install --frozen-lockfile/);
  });

  it('copies only sources that exist in the checkout', () => {
    for (const [line] of df.matchAll(/^COPY (?!--from).*$/gm)) {
      const sources = line
        .split(/\s+/)
        .slice(1, -1)
        .filter((s) => !s.startsWith('--') && s !== '.');
      for (const source of sources) expect(existsSync(join(root, source)), line).toBe(true);
    }
  });

  it('copies between its stages only stages it defines', () => {
    const stages = new Set([...df.matchAll(/^FROM \S+ AS (\S+)$/gm)].map((m) => m[1]!));
    for (const [, stage] of df.matchAll(/^COPY --from=(\S+)/gm)) expect(stages).toContain(stage);
  });

  it("keeps a checkout's dependencies, builds and local data out of the image", () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.data', '.tools', '.git', '.svelte-kit'])
      expect(ignored).toContain(entry);
  });

  it('runs the compiled scripts of a service and the built admin', () => {
    const run = readFileSync(join(root, 'deploy', 'lucy-run'), 'utf8');
    expect(run).toContain('node --conditions=lucy-dist --enable-source-maps "dist/$script.js"');
    expect(run).toContain('exec node build/index.js');
    if (hasWeb) {
      expect(existsSync(join(root, 'web', 'src', 'lib', 'server', 'cli.ts'))).toBe(true);
      const svelte = readFileSync(join(root, 'web', 'svelte.config.js'), 'utf8');
      expect(svelte).toContain("adapter({ out: 'build'");
    }
  });
});
