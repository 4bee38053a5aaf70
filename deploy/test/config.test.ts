// Drift between the services' configuration and the deployment files: every variable a service or the admin
// needs in a container (no default, or a default that points at 127.0.0.1) must be set by the Helm chart and by
// docker-compose.yml, and neither may set a variable that nothing reads (a renamed variable, silently ignored).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { envReads, envVars } from './config-vars.js';
import { renderChart } from './helm.js';

const root = join(import.meta.dirname, '..', '..');
const platformConfig = join(root, 'services', 'platform', 'src', 'config.ts');
const webConfig = join(root, 'web', 'src', 'lib', 'server', 'config.ts');

/** Services with a configuration of their own (libraries, fakes and the CLI are not deployed). */
const configured = readdirSync(join(root, 'services')).filter(
  (d) =>
    existsSync(join(root, 'services', d, 'src', 'config.ts')) &&
    !['platform', 'testkit', 'cli'].includes(d) &&
    !d.startsWith('fake-'),
);
const runnable = (d: string) => existsSync(join(root, 'services', d, 'src', 'main.ts'));

/** Variables the deployment sets that no config.ts reads, but the runtime does. */
const SET_FOR_THE_RUNTIME = new Set(['SERVICE', 'NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS']);
/** The admin: adapter-node reads HOST, PORT and ORIGIN itself. */
const SET_FOR_ADAPTER_NODE = new Set(['HOST', 'PORT', 'ORIGIN', 'NODE_EXTRA_CA_CERTS']);
/** The admin's variables that may stay unset: a first-admin pair (optional) and session lengths with defaults. */
const WEB_OPTIONAL = new Set([
  'LUCY_ADMIN_BOOTSTRAP_USER',
  'LUCY_ADMIN_BOOTSTRAP_PASSWORD',
  'SESSION_IDLE_MINUTES',
  'SESSION_ABSOLUTE_HOURS',
  'MIGRATE_ON_START',
  // As identity-teams reads it: unset means revealing a password is refused.
  'IDENTITY_ADMIN_TOKEN',
]);

interface Needs {
  /** Must be set in a container. */
  needed: string[];
  /** Every variable it reads. */
  known: Set<string>;
}

function needsOf(component: string): Needs {
  if (component === 'web') {
    const reads = envReads(webConfig);
    return { needed: reads.filter((v) => !WEB_OPTIONAL.has(v)), known: new Set(reads) };
  }
  const vars = envVars(join(root, 'services', component, 'src', 'config.ts'), platformConfig);
  return {
    needed: vars.filter((v) => v.required || v.localDefault).map((v) => v.name),
    known: new Set(vars.map((v) => v.name)),
  };
}

type ComposeService = { environment?: Record<string, string> | string[]; profiles?: string[] };
function composeEnv(svc: ComposeService | undefined): Set<string> {
  const env = svc?.environment ?? {};
  return new Set(Array.isArray(env) ? env.map((e) => e.split('=')[0]!) : Object.keys(env));
}

describe('configuration parser (deploy/test/config-vars.ts)', () => {
  it('reads the platform variables, required ones and ones whose default is local', () => {
    const platform = envVars('x.ts', platformConfig, 'const x = z.object({ ...platformEnvShape });');
    const byName = new Map(platform.map((v) => [v.name, v]));
    expect(byName.get('RPC_TOKEN')).toMatchObject({ required: true });
    expect(byName.get('NATS_URL')).toMatchObject({ required: false, localDefault: true });
    expect(byName.get('DATABASE_URL')).toMatchObject({ required: false, localDefault: true });
    expect(byName.get('LOG_LEVEL')).toMatchObject({ required: false, localDefault: false });
    expect(byName.get('NATS_USER')).toMatchObject({ required: false, localDefault: false });
    expect(byName.get('LUCY_STREAM_REPLICAS')).toMatchObject({ required: false });
  });

  it('classifies helpers, shapes passed by name and overrides, and fails loudly on what it cannot read', () => {
    const text = `
      const ownShape = { B: z.string().optional(), C: urlVar(['https']), D: urlVar(['http'], 'http://127.0.0.1:1') };
      export const s = z.object({ ...secretBoxEnvShape, A: z.string().min(3), P: portVar(7), E: z.enum(['x']) });
      export const t = z.object(ownShape);`;
    const vars = new Map(envVars('x.ts', platformConfig, text).map((v) => [v.name, v]));
    expect(vars.get('LUCY_SECRET_KEYS')?.required).toBe(true);
    expect(vars.get('LUCY_SECRET_KEY_ID')?.required).toBe(false);
    expect(vars.get('A')?.required).toBe(true);
    expect(vars.get('E')?.required).toBe(true);
    expect(vars.get('P')?.required).toBe(false);
    expect(vars.get('B')?.required).toBe(false);
    expect(vars.get('C')?.required).toBe(true);
    expect(vars.get('D')).toMatchObject({ required: false, localDefault: true });
    expect(() => envVars('x.ts', platformConfig, 'z.object({ ...unknownShape })')).toThrow(/unknownShape/);
    expect(() => envVars('x.ts', platformConfig, 'z.object({ A: secretVar() })')).toThrow(/secretVar/);
    expect(() => envVars('x.ts', platformConfig, 'z.object({ A: SCHEMA })')).toThrow(/SCHEMA/);
  });

  it('reads what a hand-written config takes from env', () => {
    const text = `const T = { a: { env: 'A_URL', fallback: 'x' } };
      function load(env) { const b = env.B; const c = env['C']; return int(env, 'D', 1, []) + b + c + env.e; }`;
    expect(envReads('w.ts', text)).toEqual(['A_URL', 'B', 'C', 'D']);
  });
});

describe('every variable a service needs is set by the chart and by compose', () => {
  let chartEnv: Map<string, Set<string>>;
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const components = [...configured, ...(existsSync(webConfig) ? ['web'] : [])];

  beforeAll(() => {
    chartEnv = new Map();
    for (const doc of parseAllDocuments(renderChart())) {
      const m = doc.toJS() as {
        kind: string;
        metadata: { labels: Record<string, string> };
        spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string }> }> } } };
      } | null;
      if (m?.kind !== 'Deployment') continue;
      const names = new Set((m.spec.template.spec.containers[0]!.env ?? []).map((e) => e.name));
      chartEnv.set(m.metadata.labels['app.kubernetes.io/component']!, names);
    }
  }, 30_000);

  it('finds the configurations to check', () => {
    expect(components).toEqual(expect.arrayContaining(['task-tracker', 'scheduler', 'ingest-sial']));
  });

  it.each(components)('%s: the chart sets every variable it needs', (component) => {
    const set = chartEnv.get(component);
    expect(set, `${component} has no Deployment in the chart`).toBeDefined();
    const missing = needsOf(component).needed.filter((v) => !set!.has(v));
    expect(missing, `${component}: set these in deploy/helm/lucy-tasks`).toEqual([]);
  });

  it.each(components)('%s: the chart sets nothing it does not read', (component) => {
    const { known } = needsOf(component);
    // A configuration still without the platform variables (a service being written) is not judged yet.
    if (component !== 'web' && (!runnable(component) || !known.has('NATS_URL'))) return;
    const extra = [...chartEnv.get(component)!].filter(
      (v) => !known.has(v) && !(component === 'web' ? SET_FOR_ADAPTER_NODE : SET_FOR_THE_RUNTIME).has(v),
    );
    expect(extra, `${component}: the chart sets variables nothing reads`).toEqual([]);
  });

  it.each(components.filter((c) => c === 'web' || runnable(c)))(
    '%s: docker-compose.yml runs it and sets every variable it needs',
    (component) => {
      const svc = compose.services[component];
      expect(svc, `${component} is missing from docker-compose.yml`).toBeDefined();
      const set = composeEnv(svc);
      const missing = needsOf(component).needed.filter((v) => !set.has(v));
      expect(missing, `${component}: set these in docker-compose.yml`).toEqual([]);
    },
  );

  it.each(components.filter((c) => c === 'web' || runnable(c)))(
    '%s: docker-compose.yml sets nothing it does not read',
    (component) => {
      const { known } = needsOf(component);
      if (component !== 'web' && !known.has('NATS_URL')) return;
      const svc = compose.services[component];
      if (!svc) return;
      const extra = [...composeEnv(svc)].filter(
        (v) => !known.has(v) && !(component === 'web' ? SET_FOR_ADAPTER_NODE : SET_FOR_THE_RUNTIME).has(v),
      );
      expect(extra, `${component}: docker-compose.yml sets variables nothing reads`).toEqual([]);
    },
  );
});
