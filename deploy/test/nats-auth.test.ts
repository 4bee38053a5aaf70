// deploy/nats/lucy-auth.conf against compose and the chart: every service connects as a user the configuration
// defines, with that user's password (the permissions themselves are exercised against a real nats-server in
// services/platform/test/contract/nats-permissions.test.ts).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { renderChart } from './helm.js';

const root = join(import.meta.dirname, '..', '..');
const conf = readFileSync(join(root, 'deploy', 'nats', 'lucy-auth.conf'), 'utf8');
const users = new Map(
  [...conf.matchAll(/^\s*user: ([\w-]+)\s*\n\s*password: \$(\w+)/gm)].map((m) => [m[1]!, m[2]!]),
);
// Every service that runs (each connects to NATS through the platform's configuration).
const services = readdirSync(join(root, 'services')).filter(
  (d) => existsSync(join(root, 'services', d, 'src', 'main.ts')) && !d.startsWith('fake-') && d !== 'cli',
);

describe('NATS users (deploy/nats/lucy-auth.conf)', () => {
  it('defines a user per service, an operators’ user and the SIS example, each with its own password variable', () => {
    expect(services).toEqual(
      expect.arrayContaining(['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier']),
    );
    for (const s of [...services, 'admin', 'sis']) expect(users.has(s), s).toBe(true);
    expect(new Set(users.values()).size).toBe(users.size);
  });

  it('compose runs each service as its user, and gives nats-server every password', () => {
    const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
    };
    const server = compose.services.nats!;
    expect(server.command).toEqual(expect.arrayContaining(['-c', '/etc/nats/nats-server.conf']));
    for (const variable of users.values()) expect(server.environment?.[variable], variable).toBeDefined();
    for (const s of services) {
      const env = compose.services[s]?.environment ?? {};
      expect(env.NATS_USER, s).toBe(s);
      // Its user may subscribe to its own reply prefix only.
      expect(env.NATS_INBOX_PREFIX, s).toBe(`_INBOX_${s}`);
      expect(env.NATS_PASSWORD, s).toContain(`\${${users.get(s)}:?`);
    }
  });

  it('the chart connects each service as its user with nats.auth.perServiceUsers', () => {
    const docs = parseAllDocuments(
      renderChart({ set: ['nats.auth.existingSecret=lucy-nats', 'nats.auth.perServiceUsers=true'] }),
    ).map((d) => d.toJSON() as Record<string, unknown> | null);
    const deployments = docs.filter((d) => d?.kind === 'Deployment') as {
      spec: {
        template: {
          spec: {
            containers: {
              name: string;
              env?: {
                name: string;
                value?: string;
                valueFrom?: { secretKeyRef?: { name: string; key: string } };
              }[];
            }[];
          };
        };
      };
    }[];
    let seen = 0;
    for (const d of deployments) {
      const c = d.spec.template.spec.containers[0]!;
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      const service = env.get('SERVICE')?.value;
      if (!service || !services.includes(service)) continue;
      seen++;
      expect(env.get('NATS_USER')?.value, service).toBe(service);
      expect(env.get('NATS_INBOX_PREFIX')?.value, service).toBe(`_INBOX_${service}`);
      expect(env.get('NATS_PASSWORD')?.valueFrom?.secretKeyRef, service).toEqual({
        name: 'lucy-nats',
        key: `${service}-password`,
      });
    }
    expect(seen).toBe(services.length);
  });
  it('grants each service its own consumers and inbox only, and every consumer the services create', () => {
    const blocks = conf.split(/\n\s*\{\s*\n\s*user: /).slice(1);
    const block = (user: string) => blocks.find((b) => b.startsWith(`${user}\n`)) ?? '';
    const granted = new Map<string, string>();
    for (const s of services) {
      const b = block(s);
      // Nothing shared: no whole JetStream API, no other inbox, no acks of every consumer.
      for (const wide of ['"$JS.API.>"', '"_INBOX.>"', '"$JS.ACK.>"', '"$JS.FC.>"', '"$JS.API.CONSUMER.>"'])
        expect(b, `${s} ${wide}`).not.toContain(wide);
      expect(b, s).toContain(`"_INBOX_${s}.>"`);
      for (const m of b.matchAll(/"\$JS\.API\.CONSUMER\.MSG\.NEXT\.(\w+)\.([\w-]+)"/g)) {
        expect(b, m[2]).toContain(`"$JS.ACK.${m[1]}.${m[2]}.>"`);
        expect(b, m[2]).toMatch(new RegExp(`"\\$JS\\.API\\.CONSUMER\\.CREATE\\.${m[1]}\\.${m[2]}\\.lucy\\.`));
        granted.set(m[2]!, s);
      }
    }
    // Every durable a service's source names (literal, or a template such as `ingest-sial_ingestar_${tipo}`).
    const sources = services.flatMap((s) =>
      readdirSync(join(root, 'services', s, 'src'), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => [s, readFileSync(join(root, 'services', s, 'src', f), 'utf8')] as const),
    );
    let found = 0;
    for (const [service, text] of sources) {
      for (const m of text.matchAll(/durable: ['`]([\w-]+)(\$\{[^}]+\})?['`]/g)) {
        found++;
        const names = [...granted.keys()].filter((d) => (m[2] ? d.startsWith(m[1]!) : d === m[1]));
        expect(names.length, `${m[0]} granted in lucy-auth.conf`).toBeGreaterThan(0);
        for (const d of names) expect(granted.get(d), d).toBe(service);
      }
    }
    expect(found).toBeGreaterThanOrEqual(15);
  });
});
