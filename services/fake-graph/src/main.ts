/** Runs the Graph fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STUDENT_SKU } from './directory.js';
import { createFakeGraph, DEFAULT_APP, DEFAULT_DOMAINS, DEFAULT_TENANT_ID } from './fake-graph.server.js';
import { DEFAULT_TLS_HOSTS, loadOrCreateCertificate } from './tls.js';

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(
      JSON.stringify({ level: 'error', msg: `${name} must be a non-negative integer`, value: raw }),
    );
    process.exit(2);
  }
  return value;
}

const host = process.env.FAKE_GRAPH_HOST || '127.0.0.1';
const tlsDir = join(tmpdir(), 'lucy-fake-graph');
const certFile = process.env.FAKE_GRAPH_CERT_FILE || join(tlsDir, 'cert.pem');
const keyFile = process.env.FAKE_GRAPH_KEY_FILE || join(tlsDir, 'key.pem');
const extraHosts = (process.env.FAKE_GRAPH_TLS_HOSTS ?? '')
  .split(',')
  .map((h) => h.trim())
  .filter(Boolean);
// Reused while valid, so clients started with NODE_EXTRA_CA_CERTS keep trusting the fake after a restart.
const tls = await loadOrCreateCertificate({
  certFile,
  keyFile,
  hosts: [...DEFAULT_TLS_HOSTS, ...extraHosts],
});
const skuPartNumber = process.env.FAKE_GRAPH_SKU || STUDENT_SKU.skuPartNumber;
const fake = await createFakeGraph({
  port: intEnv('FAKE_GRAPH_PORT', 8443),
  host,
  tls,
  tenantId: process.env.FAKE_GRAPH_TENANT_ID || DEFAULT_TENANT_ID,
  apps: [
    {
      clientId: process.env.FAKE_GRAPH_CLIENT_ID || DEFAULT_APP.clientId,
      clientSecret: process.env.FAKE_GRAPH_CLIENT_SECRET || DEFAULT_APP.clientSecret,
    },
  ],
  domains: (process.env.FAKE_GRAPH_DOMAINS || DEFAULT_DOMAINS.join(','))
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean),
  skus: [
    {
      ...STUDENT_SKU,
      skuPartNumber,
      skuId: process.env.FAKE_GRAPH_SKU_ID || STUDENT_SKU.skuId,
      seats: intEnv('FAKE_GRAPH_SEATS', 500),
    },
  ],
  writeLimit: intEnv('FAKE_GRAPH_WRITE_LIMIT', 3000),
  replicationLagMs: intEnv('FAKE_GRAPH_REPLICATION_LAG_MS', 0),
  latencyMs: intEnv('FAKE_GRAPH_LATENCY_MS', 0),
});
console.log(
  JSON.stringify({
    level: 'info',
    msg: 'fake Graph listening',
    url: fake.url,
    graphUrl: fake.graphUrl,
    authorityHost: fake.authorityHost,
    tenantId: fake.tenantId,
    clientId: fake.app.clientId,
    caFile: certFile,
    trust: `NODE_EXTRA_CA_CERTS=${certFile} (set before the client process starts)`,
    certCreated: tls.created,
  }),
);

let closing = false;
const shutdown = (signal: string): void => {
  if (closing) return;
  closing = true;
  fake.close().then(
    () => {
      console.log(JSON.stringify({ level: 'info', msg: 'fake Graph stopped', signal }));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(JSON.stringify({ level: 'error', msg: 'fake Graph failed to stop', error: String(err) }));
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
