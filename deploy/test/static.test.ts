// No Docker engine or helm binary runs here, so the deployment files are checked statically against the tree.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const chart = join(root, 'deploy', 'helm', 'lucy-tasks');
const runnable = readdirSync(join(root, 'services')).filter(
  (d) => existsSync(join(root, 'services', d, 'src', 'main.ts')) && !d.startsWith('fake-') && d !== 'cli',
);
const migratable = runnable.filter((d) => existsSync(join(root, 'services', d, 'src', 'migrate.ts')));

/** Every file under each service's src/ (never node_modules, dist or .data, which a walk of services/ would enter). */
function runnableSources(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [],
    );
  return readdirSync(join(root, 'services'))
    .map((d) => join(root, 'services', d, 'src'))
    .filter((d) => existsSync(d))
    .flatMap(walk);
}

type Compose = {
  services: Record<
    string,
    { environment?: Record<string, string>; command?: string[]; healthcheck?: unknown; profiles?: string[] }
  >;
};

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Compose;

  it('runs NATS with JetStream and PostgreSQL with health checks', () => {
    expect(compose.services.nats?.healthcheck).toBeDefined();
    expect(JSON.stringify(compose.services.nats)).toContain('-js');
    expect(compose.services.postgres?.healthcheck).toBeDefined();
  });

  it('runs every service of the tree, each on its own port with a readiness check', () => {
    const ports = new Set<string>();
    for (const name of runnable) {
      const svc = compose.services[name];
      expect(svc, `service ${name} missing from docker-compose.yml`).toBeDefined();
      expect(svc!.environment?.SERVICE).toBe(name);
      expect(svc!.healthcheck).toBeDefined();
      const port = svc!.environment?.RPC_PORT;
      expect(port).toMatch(/^\d+$/);
      expect(ports.has(port!)).toBe(false);
      ports.add(port!);
    }
  });

  it('migrates every service that has migrations before starting them', () => {
    const script = (compose.services.migrate?.command ?? []).join(' ');
    for (const name of migratable) expect(script).toContain(name);
  });

  it('keeps the fakes behind the demo profile', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (name.startsWith('fake-')) expect(svc.profiles).toContain('demo');
    }
  });
});

describe('helm chart', () => {
  const valuesText = readFileSync(join(chart, 'values.yaml'), 'utf8');
  const values = parse(valuesText) as { services: Record<string, { port: number; enabled: boolean }> };
  const templates = readdirSync(join(chart, 'templates'), { recursive: true })
    .map(String)
    .filter((f) => /\.(ya?ml|tpl)$/.test(f))
    .map((f) => readFileSync(join(chart, 'templates', f), 'utf8'))
    .join('\n');

  it('has a valid Chart.yaml', () => {
    const c = parse(readFileSync(join(chart, 'Chart.yaml'), 'utf8')) as Record<string, string>;
    expect(c.apiVersion).toBe('v2');
    expect(c.name).toBe('lucy-tasks');
    expect(c.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('deploys every service of the tree on a distinct port', () => {
    for (const name of runnable)
      expect(values.services[name], `${name} missing from values.yaml`).toBeDefined();
    const ports = Object.values(values.services).map((s) => s.port);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('comments every key of values.yaml (a comment on a map documents its data children)', () => {
    const lines = valuesText.split('\n');
    const uncommented: string[] = [];
    // Stack of [indent, documented] for the ancestors of the current line.
    const stack: Array<[number, boolean]> = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w-]*):/.exec(line);
      if (!m) return;
      const indent = m[1]!.length;
      while (stack.length && stack[stack.length - 1]![0] >= indent) stack.pop();
      let j = i - 1;
      while (j >= 0 && lines[j]!.trim() === '') j--;
      const commented = (lines[j]?.trim() ?? '').startsWith('#');
      const parentDocumented = stack.some(([, d]) => d);
      const hasCommentedChildren = /:\s*$/.test(line) && /^\s*#/.test(lines[i + 1] ?? '');
      if (!commented && !parentDocumented && !hasCommentedChildren)
        uncommented.push(`${i + 1}: ${line.trim()}`);
      stack.push([indent, commented]);
    });
    expect(uncommented).toEqual([]);
  });

  it('references only values that exist', () => {
    const refs = [...templates.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)].map((m) => m[1]!);
    for (const ref of refs) {
      let node: unknown = values;
      for (const part of ref.split('.')) {
        expect(node && typeof node === 'object' && part in node, `.Values.${ref} is not in values.yaml`).toBe(
          true,
        );
        node = (node as Record<string, unknown>)[part];
      }
    }
  });

  it('ships optional alerts on metrics the services really export', () => {
    const rule = readFileSync(join(chart, 'templates', 'prometheus-rule.yaml'), 'utf8');
    expect(rule).toContain('{{- if .Values.prometheusRule.enabled }}');
    const used = new Set([...rule.matchAll(/\b(lucy_[a-z_]+?)(?:_bucket)?\b/g)].map((m) => m[1]!));
    // Only each service's own src/ is walked: a recursive walk of services/ follows the packages' node_modules
    // links (over a million entries) and made this test time out.
    const sources = runnableSources()
      .filter((f) => f.endsWith('metrics.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const metric of used) expect(sources, metric).toContain(`'${metric}'`);
  });

  it('probes /healthz and /readyz, runs migrations in a hook, and ships a helm test', () => {
    expect(templates).toContain('path: /healthz');
    expect(templates).toContain('path: /readyz');
    expect(templates).toContain('helm.sh/hook: pre-install,pre-upgrade');
    expect(templates).toContain('helm.sh/hook: test');
  });

  it('balances every template block', () => {
    const opens = (templates.match(/\{\{-?\s*(if|range|with|define)\b/g) ?? []).length;
    const ends = (templates.match(/\{\{-?\s*end\s*-?\}\}/g) ?? []).length;
    expect(ends).toBe(opens);
  });
});

describe('Dockerfile', () => {
  it('builds one non-root image on Node 20 whose SERVICE picks the service', () => {
    const df = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
    expect(df).toMatch(/FROM node:20/);
    expect(df).toMatch(/USER lucy/);
    expect(df).toContain('/app/deploy/lucy-run \\"$SERVICE\\" main');
    expect(df).toContain('RUN node scripts/build.mjs');
  });

  it('copies only sources that exist in the checkout', () => {
    const df = readFileSync(join(root, 'deploy', 'Dockerfile'), 'utf8');
    for (const [line] of df.matchAll(/^COPY (?!--from).*$/gm)) {
      const sources = line
        .split(/\s+/)
        .slice(1, -1)
        .filter((source) => source !== '.');
      for (const source of sources) expect(existsSync(join(root, source)), line).toBe(true);
    }
  });

  it("keeps a checkout's dependencies, builds and local data out of the image", () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.data', '.tools', '.git'])
      expect(ignored).toContain(entry);
  });

  it('runs the compiled scripts, in the image and in the migrate steps of compose and the chart', () => {
    const run = readFileSync(join(root, 'deploy', 'lucy-run'), 'utf8');
    expect(run).toContain('node --conditions=lucy-dist --enable-source-maps "dist/$script.js"');
    const job = readFileSync(join(chart, 'templates', 'migrate-job.yaml'), 'utf8');
    expect(job).toContain('/app/deploy/lucy-run {{ $name }} migrate');
    expect(job).not.toContain('tsx');
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as Compose;
    expect((compose.services.migrate?.command ?? []).join(' ')).toContain('/app/deploy/lucy-run $$s migrate');
  });
});
