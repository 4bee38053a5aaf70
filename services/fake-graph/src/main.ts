/** Runs the Graph fake standalone (dev stack, demos). Configuration from env; see README.md. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intEnv, runFake, stringEnv } from '@lucy/fake-kit';
import { STUDENT_SKU } from './directory.js';
import { createFakeGraph, DEFAULT_APP, DEFAULT_DOMAINS, DEFAULT_TENANT_ID } from './fake-graph.server.js';
import { DEFAULT_TLS_HOSTS, loadOrCreateCertificate } from './tls.js';

const host = stringEnv('FAKE_GRAPH_HOST', '127.0.0.1');
const tlsDir = join(tmpdir(), 'lucy-fake-graph');
const certFile = stringEnv('FAKE_GRAPH_CERT_FILE', join(tlsDir, 'cert.pem'));
const keyFile = stringEnv('FAKE_GRAPH_KEY_FILE', join(tlsDir, 'key.pem'));
const extraHosts = stringEnv('FAKE_GRAPH_TLS_HOSTS', '')
  .split(',')
  .map((h) => h.trim())
  .filter(Boolean);
// Reused while valid, so clients started with NODE_EXTRA_CA_CERTS keep trusting the fake after a restart.
const tls = await loadOrCreateCertificate({
  certFile,
  keyFile,
  hosts: [...DEFAULT_TLS_HOSTS, ...extraHosts],
});
const clientCertFile = stringEnv('FAKE_GRAPH_CLIENT_CERT_FILE', '');
const skuPartNumber = stringEnv('FAKE_GRAPH_SKU', STUDENT_SKU.skuPartNumber);
await runFake({
  name: 'Graph',
  start: () =>
    createFakeGraph({
      port: intEnv('FAKE_GRAPH_PORT', 8443),
      host,
      tls,
      tenantId: stringEnv('FAKE_GRAPH_TENANT_ID', DEFAULT_TENANT_ID),
      apps: [
        {
          clientId: stringEnv('FAKE_GRAPH_CLIENT_ID', DEFAULT_APP.clientId),
          clientSecret: stringEnv('FAKE_GRAPH_CLIENT_SECRET', DEFAULT_APP.clientSecret),
          // Public certificate(s) of the app's certificate credential (PEM file), besides the secret.
          ...(clientCertFile ? { certificates: [readFileSync(clientCertFile, 'utf8')] } : {}),
        },
      ],
      domains: stringEnv('FAKE_GRAPH_DOMAINS', DEFAULT_DOMAINS.join(','))
        .split(',')
        .map((d) => d.trim())
        .filter(Boolean),
      skus: [
        {
          ...STUDENT_SKU,
          skuPartNumber,
          skuId: stringEnv('FAKE_GRAPH_SKU_ID', STUDENT_SKU.skuId),
          seats: intEnv('FAKE_GRAPH_SEATS', 500),
        },
      ],
      writeLimit: intEnv('FAKE_GRAPH_WRITE_LIMIT', 3000),
      replicationLagMs: intEnv('FAKE_GRAPH_REPLICATION_LAG_MS', 0),
      latencyMs: intEnv('FAKE_GRAPH_LATENCY_MS', 0),
    }),
  describe: (fake) => ({
    url: fake.url,
    graphUrl: fake.graphUrl,
    authorityHost: fake.authorityHost,
    tenantId: fake.tenantId,
    clientId: fake.app.clientId,
    caFile: certFile,
    trust: `NODE_EXTRA_CA_CERTS=${certFile} (set before the client process starts)`,
    certCreated: tls.created,
  }),
});
