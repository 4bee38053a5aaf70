// The chart rendered by the real helm binary (v4, test/helm.ts) with its default values and with every optional
// part enabled; each manifest parsed as YAML and validated against the Kubernetes schemas (test/k8s.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { chartDir, helm, renderChart } from './helm.js';
import { validateManifest } from './k8s.js';

const root = join(import.meta.dirname, '..', '..');
const everything = join(import.meta.dirname, 'fixtures', 'everything.yaml');

interface Probe {
  httpGet: { path: string; port: string; scheme?: string };
}
interface Container {
  name: string;
  command: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  securityContext: {
    readOnlyRootFilesystem: boolean;
    allowPrivilegeEscalation: boolean;
    capabilities: { drop: string[] };
  };
  resources: { requests: { memory?: string }; limits: { memory?: string } };
  imagePullPolicy?: string;
  /** A misspelt field, for the test that the schema check catches it. */
  readinesProbe?: Probe;
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe: Probe;
  lifecycle: { preStop: { exec: { command: string[] } } };
  volumeMounts: Array<{ mountPath: string }>;
}
interface PodSpec {
  securityContext: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: unknown };
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
  topologySpreadConstraints: Array<{ topologyKey: string }>;
  containers: Container[];
}
interface Rule {
  to?: Array<{ ipBlock?: { cidr: string } }>;
}
interface Spec extends Partial<PodSpec> {
  replicas?: number | string;
  template: { spec: PodSpec };
  selector: { matchLabels: Record<string, string>; matchExpressions: Array<{ values: string[] }> };
  maxReplicas?: number;
  tls?: unknown;
  rules: Array<{ http: { paths: Array<{ backend: { service: { name: string } } }> } }>;
  ingress?: unknown[];
  egress: Rule[];
  policyTypes?: string[];
  endpoints?: unknown[];
  ports?: unknown[];
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Spec;
}

function manifests(text: string): Manifest[] {
  const docs = parseAllDocuments(text);
  for (const d of docs) if (d.errors.length) throw new Error(`invalid YAML: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as Manifest | null).filter((m): m is Manifest => m !== null);
}

function podSpecOf(m: Manifest): PodSpec | undefined {
  if (m.kind === 'Deployment' || m.kind === 'Job') return m.spec.template.spec;
  if (m.kind === 'Pod') return m.spec as unknown as PodSpec;
  return undefined;
}
const envOf = (m: Manifest) => new Map((podSpecOf(m)!.containers[0]!.env ?? []).map((e) => [e.name, e]));
const find = (ms: Manifest[], kind: string, suffix: string) =>
  ms.find((m) => m.kind === kind && m.metadata.name.endsWith(`-${suffix}`));

const values = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as {
  services: Record<string, { port: number; metricsPort: number }>;
  admin: { port: number };
};
const SERVICES = Object.keys(values.services);

describe('helm chart, rendered by helm', () => {
  let defaults: Manifest[];
  let full: Manifest[];
  beforeAll(() => {
    defaults = manifests(renderChart());
    full = manifests(renderChart({ valuesFiles: [everything] }));
  }, 60_000);

  it('passes helm lint --strict with the default values and with everything enabled', () => {
    for (const args of [[], ['-f', everything]]) {
      const r = helm(['lint', '--strict', chartDir, ...args]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
  });

  it('renders a Deployment, Service and PodDisruptionBudget for every service and the admin', () => {
    for (const name of [...SERVICES, 'web']) {
      expect(find(defaults, 'Deployment', name), name).toBeDefined();
      expect(find(defaults, 'Service', name), name).toBeDefined();
      expect(find(defaults, 'PodDisruptionBudget', name), name).toBeDefined();
    }
    expect(defaults.filter((m) => m.kind === 'Secret')).toEqual([]);
  });

  it('validates every manifest against the Kubernetes schemas, defaults and everything enabled', async () => {
    const kinds = new Set(full.map((m) => m.kind));
    for (const k of [
      'HorizontalPodAutoscaler',
      'Ingress',
      'NetworkPolicy',
      'ServiceMonitor',
      'PrometheusRule',
    ])
      expect(kinds, k).toContain(k);
    const problems: string[] = [];
    for (const m of [...defaults, ...full])
      for (const p of await validateManifest(m)) problems.push(`${m.kind} ${m.metadata.name}${p}`);
    expect(problems).toEqual([]);
  });

  it('the schema check rejects a wrong type, a bad enum value and an unknown field', async () => {
    const deployment = structuredClone(find(defaults, 'Deployment', 'scheduler')!);
    deployment.spec.replicas = 'two';
    const c = deployment.spec.template.spec.containers[0]!;
    c.imagePullPolicy = 'Sometimes';
    c.readinesProbe = c.readinessProbe;
    const problems = await validateManifest(deployment);
    expect(problems.join('\n')).toMatch(/\/spec\/replicas: type/);
    expect(problems.join('\n')).toMatch(/imagePullPolicy: enum/);
    expect(problems.join('\n')).toMatch(/containers\/0\/readinesProbe: unknown field/);
  });

  it('hardens every pod: non-root, read-only root filesystem, no privilege escalation, no capabilities, seccomp', () => {
    for (const m of full) {
      const spec = podSpecOf(m);
      if (!spec) continue;
      expect(spec.securityContext.runAsNonRoot, m.metadata.name).toBe(true);
      expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
      expect(spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const c of spec.containers) {
        expect(c.securityContext.readOnlyRootFilesystem, m.metadata.name).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
        expect(c.resources.requests.memory, m.metadata.name).toBeDefined();
        expect(c.resources.limits.memory).toBeDefined();
      }
    }
  });

  it('probes every service over HTTP (HTTPS with RPC TLS) and gives it time to drain before SIGKILL', () => {
    const shutdown = readFileSync(join(root, 'services', 'platform', 'src', 'shutdown.ts'), 'utf8');
    const drainMs = Number(/timeoutMs = ([\d_]+)/.exec(shutdown)![1]!.replace(/_/g, ''));
    for (const [ms, scheme] of [
      [defaults, 'HTTP'],
      [full, 'HTTPS'],
    ] as const) {
      for (const name of SERVICES) {
        const spec = podSpecOf(find(ms, 'Deployment', name)!)!;
        const c = spec.containers[0]!;
        expect(c.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'rpc', scheme });
        expect(c.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'rpc', scheme });
        expect(c.startupProbe.httpGet.path).toBe('/healthz');
        const preStop = Number(c.lifecycle.preStop.exec.command[1]);
        expect(spec.terminationGracePeriodSeconds, name).toBeGreaterThanOrEqual(preStop + drainMs / 1000 + 5);
      }
    }
  });

  it('spreads replicas over zones and nodes and keeps one up during voluntary disruptions', () => {
    for (const name of [...SERVICES, 'web']) {
      const spec = podSpecOf(find(defaults, 'Deployment', name)!)!;
      expect(spec.topologySpreadConstraints.map((t: { topologyKey: string }) => t.topologyKey)).toEqual([
        'topology.kubernetes.io/zone',
        'kubernetes.io/hostname',
      ]);
      const pdb = find(defaults, 'PodDisruptionBudget', name)!;
      expect(pdb.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(name);
    }
  });

  it('runs several scheduler replicas (the lease elects one leader) and leaves replicas to the HPA when enabled', () => {
    expect(find(full, 'Deployment', 'scheduler')!.spec.replicas).toBe(3);
    expect(find(defaults, 'Deployment', 'scheduler')!.spec.replicas).toBe(2);
    expect(find(full, 'Deployment', 'task-tracker')!.spec.replicas).toBeUndefined();
    expect(find(full, 'HorizontalPodAutoscaler', 'task-tracker')!.spec.maxReplicas).toBe(5);
  });

  it('a PodDisruptionBudget with minAvailable is not rendered for a single replica (it would block drains)', () => {
    const ms = manifests(renderChart({ set: ['services.task-tracker.replicas=1'] }));
    expect(find(ms, 'PodDisruptionBudget', 'task-tracker')).toBeUndefined();
    expect(find(ms, 'PodDisruptionBudget', 'ingest-sial')).toBeDefined();
  });

  it('listens on every interface in the pod, with metrics on their own port that the ServiceMonitor scrapes', () => {
    for (const name of SERVICES) {
      const dep = find(full, 'Deployment', name)!;
      const env = envOf(dep);
      expect(env.get('RPC_HOST')?.value).toBe('0.0.0.0');
      expect(env.get('RPC_PORT')?.value).toBe(String(values.services[name]!.port));
      expect(env.get('METRICS_PORT')?.value).toBe(String(values.services[name]!.metricsPort));
      expect(env.get('METRICS_HOST')?.value).toBe('0.0.0.0');
      expect(env.get('LUCY_STREAM_REPLICAS')?.value).toBe('3');
      expect(env.get('RPC_TLS_CERT_FILE')?.value).toBe('/etc/lucy/rpc-tls/tls.crt');
      const svc = find(full, 'Service', name)!;
      expect(svc.spec.ports).toContainEqual(
        expect.objectContaining({ name: 'metrics', port: values.services[name]!.metricsPort }),
      );
    }
    const sm = full.find((m) => m.kind === 'ServiceMonitor')!;
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(sm.spec.selector.matchExpressions[0]!.values).toEqual(SERVICES.slice().sort());
  });

  it('reads every credential from an existing Secret, never from values', () => {
    for (const m of [...defaults, ...full]) {
      const spec = podSpecOf(m);
      if (!spec) continue;
      for (const c of spec.containers)
        for (const e of c.env ?? [])
          if (
            /PASSWORD|TOKEN|SECRET|SEED|DATABASE_URL|LUCY_SECRET_KEYS/.test(e.name) &&
            e.name !== 'NODE_EXTRA_CA_CERTS'
          )
            expect(e.valueFrom?.secretKeyRef, `${m.metadata.name} ${e.name}`).toBeDefined();
    }
    const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
    expect(valuesText).not.toMatch(/^\s*(password|token|secret|databaseUrl|rpcToken):\s*\S/im);
  });

  it('exposes only the admin through an Ingress with TLS', () => {
    const ing = full.filter((m) => m.kind === 'Ingress');
    expect(ing).toHaveLength(1);
    expect(ing[0]!.spec.tls).toEqual([
      { hosts: ['tareas.eco.unrc.edu.ar'], secretName: 'lucy-tasks-admin-tls' },
    ]);
    expect(ing[0]!.spec.rules[0]!.http.paths[0]!.backend.service.name).toMatch(/-web$/);
    expect(envOf(find(full, 'Deployment', 'web')!).get('ORIGIN')?.value).toBe(
      'https://tareas.eco.unrc.edu.ar',
    );
  });

  it('lets only the admin be reached from the ingress controller, and services reach only their peers', () => {
    const policies = full.filter((m) => m.kind === 'NetworkPolicy');
    const fromIngress = policies.filter((p) =>
      JSON.stringify(p.spec.ingress ?? []).includes('"kubernetes.io/metadata.name":"ingress-nginx"'),
    );
    expect(fromIngress.map((p) => p.metadata.name)).toEqual([expect.stringMatching(/-web$/)]);
    const sial = policies.find((p) => p.metadata.name.endsWith('-ingest-sial'))!;
    const external = (sial.spec.egress as Array<{ to?: Array<{ ipBlock?: { cidr: string } }> }>)
      .flatMap((r) => r.to ?? [])
      .filter((t) => t.ipBlock)
      .map((t) => t.ipBlock!.cidr);
    // Postgres by CIDR and SIAL's range; not Graph's, not the SMTP relay's.
    expect(external.sort()).toEqual(['10.0.5.10/32', '200.7.141.0/24']);
    for (const p of policies) expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('migrates in a pre-install/pre-upgrade hook with only the database URL', () => {
    const job = defaults.find((m) => m.kind === 'Job')!;
    expect(job.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    const script = podSpecOf(job)!.containers[0]!.command.join(' ');
    for (const name of SERVICES) expect(script).toContain(` ${name}`);
    expect(script).toContain('/app/deploy/lucy-run "$s" migrate');
    expect(script).toContain('/app/deploy/lucy-run web migrate');
    expect(envOf(find(defaults, 'Deployment', 'web')!).get('MIGRATE_ON_START')?.value).toBe('false');
    expect([...envOf(job).keys()].sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL']);
  });

  it('helm test calls grpc.health.v1.Health/Check on every enabled service and the admin health path', () => {
    const pod = defaults.find((m) => m.kind === 'Pod')!;
    expect(pod.metadata.annotations!['helm.sh/hook']).toBe('test');
    const targets = JSON.parse(envOf(pod).get('TARGETS')!.value!) as { services: string[]; admin: string };
    expect(targets.services).toEqual(
      SERVICES.slice()
        .sort()
        .map((n) => `http://lucy-lucy-tasks-${n}:${values.services[n]!.port}`),
    );
    expect(targets.admin).toBe(`http://lucy-lucy-tasks-web:${values.admin.port}/readyz`);
    expect(podSpecOf(pod)!.containers[0]!.command.join('\n')).toContain("'/grpc.health.v1.Health/Check'");
    const off = manifests(renderChart({ set: ['services.notifier.enabled=false', 'tests.enabled=false'] }));
    expect(off.find((m) => m.kind === 'Pod')).toBeUndefined();
    expect(find(off, 'Deployment', 'notifier')).toBeUndefined();
  });

  it('mounts NATS credentials and TLS files from their Secrets and points the variables at them', () => {
    const env = envOf(find(full, 'Deployment', 'scheduler')!);
    expect(env.get('NATS_CREDS_FILE')?.value).toBe('/etc/lucy/nats-creds/lucy.creds');
    expect(env.get('NATS_TLS_CA')?.value).toBe('/etc/lucy/nats-tls/ca.crt');
    expect(env.get('NATS_USER')?.valueFrom).toEqual({
      secretKeyRef: { name: 'lucy-tasks-nats', key: 'NATS_USER' },
    });
    const mounts = podSpecOf(find(full, 'Deployment', 'scheduler')!)!.containers[0]!.volumeMounts.map(
      (v: { mountPath: string }) => v.mountPath,
    );
    expect(mounts).toEqual(['/tmp', '/etc/lucy/nats-creds', '/etc/lucy/nats-tls', '/etc/lucy/rpc-tls']);
  });
});

describe('values.schema.json', () => {
  const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as object;
  const valuesDoc = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);

  it('accepts values.yaml and the everything-enabled values', () => {
    expect(validate(valuesDoc), JSON.stringify(validate.errors)).toBe(true);
    const merged = structuredClone(valuesDoc);
    const deepMerge = (a: Record<string, unknown>, b: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(b)) {
        if (v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object')
          deepMerge(a[k] as Record<string, unknown>, v as Record<string, unknown>);
        else a[k] = v;
      }
    };
    deepMerge(merged, parse(readFileSync(everything, 'utf8')) as Record<string, unknown>);
    expect(validate(merged), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each([
    ['a string where a number goes', 'services.scheduler.replicas', 'two'],
    ['an unknown top-level key', 'replicaCount', 2],
    ['an unknown service', 'services.schedulr', { enabled: true }],
    ['an unknown nested key', 'nats.auth.pasword', 'x'],
    ['a secret value where a Secret name goes', 'database.existingSecret', 'postgres://u:p@h/db'],
    ['more stream replicas than NATS allows', 'nats.streamReplicas', 7],
    ['a bad log level', 'config.logLevel', 'verbose'],
  ])('rejects %s', (_what, path, value) => {
    const bad = structuredClone(valuesDoc);
    const parts = path.split('.');
    let node = bad;
    for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
    node[parts[parts.length - 1]!] = value;
    expect(validate(bad)).toBe(false);
  });

  it('makes helm itself refuse wrong values before rendering anything', () => {
    for (const set of [
      'services.scheduler.replicas=two',
      'services.schedulr.replicas=2',
      'nats.tls.bogus=1',
    ]) {
      const r = helm(['template', 'lucy', chartDir, '--set', set]);
      expect(r.status, set).not.toBe(0);
      expect(r.stderr).toMatch(/schema/);
    }
  });
});

describe('chart sources', () => {
  const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
  const templates = readdirSync(join(chartDir, 'templates'), { recursive: true })
    .map(String)
    .filter((f) => /\.(ya?ml|tpl|txt)$/.test(f))
    .map((f) => readFileSync(join(chartDir, 'templates', f), 'utf8'))
    .join('\n');

  it('references only values that exist', () => {
    const doc = parse(valuesText) as Record<string, unknown>;
    const refs = [...templates.matchAll(/\.Values\.([A-Za-z0-9_.]+)/g)].map((m) => m[1]!.replace(/\.$/, ''));
    expect(refs.length).toBeGreaterThan(40);
    const missing = refs.filter((ref) => {
      let node: unknown = doc;
      for (const part of ref.split('.')) {
        if (!node || typeof node !== 'object' || !(part in node)) return true;
        node = (node as Record<string, unknown>)[part];
      }
      return false;
    });
    expect(missing).toEqual([]);
  });

  it('comments every key of values.yaml (a comment on a map documents its children)', () => {
    const lines = valuesText.split('\n');
    const uncommented: string[] = [];
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
    expect(valuesText.match(/^#{20,}$/gm)!.length).toBeGreaterThanOrEqual(20);
  });

  it('documents a runbook in docs/deploy.md for every alert, and every metric the alerts use', () => {
    const rule = readFileSync(join(chartDir, 'templates', 'prometheus-rule.yaml'), 'utf8');
    const docs = readFileSync(join(root, 'docs', 'deploy.md'), 'utf8');
    const alerts = [...rule.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThan(5);
    for (const alert of alerts) expect(docs, alert).toMatch(new RegExp(`^### ${alert}$`, 'm'));
    for (const [, metric] of rule.matchAll(/\b(lucy_[a-z_]+?)(?:_bucket)?\b/g))
      expect(docs, metric).toContain(metric!);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('(docs/deploy.md)');
  });

  it('ships alerts only on metrics the services really export', () => {
    const rule = readFileSync(join(chartDir, 'templates', 'prometheus-rule.yaml'), 'utf8');
    const used = new Set([...rule.matchAll(/\b(lucy_[a-z_]+?)(?:_bucket)?\b/g)].map((m) => m[1]!));
    // Each service's own src/ only: a walk of services/ would follow node_modules links (a million entries).
    const sources = readdirSync(join(root, 'services'))
      .map((d) => join(root, 'services', d, 'src'))
      .filter((d) => existsSync(d))
      .flatMap((d) => readdirSync(d, { recursive: true }).map((f) => join(d, String(f))))
      .filter((f) => f.endsWith('metrics.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(used.size).toBeGreaterThan(3);
    for (const metric of used) expect(sources, metric).toContain(`'${metric}'`);
  });
});
