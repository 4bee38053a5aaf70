/**
 * Makes the test workers trust the fake's certificate. Node reads NODE_EXTRA_CA_CERTS once, when a process starts,
 * so it cannot be set from inside a test file; vitest runs global setup in the main process before it forks the
 * workers (pool `forks`) with the main process's environment, so setting it here reaches every worker. The key and
 * certificate are handed to the tests with `provide`, so each fake they start serves this trusted certificate.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { loadOrCreateCertificate } from './src/tls.js';

declare module 'vitest' {
  export interface ProvidedContext {
    fakeGraphTls: { cert: string; key: string; caFile: string };
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  // A fixed directory, kept after the run: a worker the pool forks late still finds the file NODE_EXTRA_CA_CERTS
  // names (Node warns when it is gone), and the certificate is reused while valid.
  const dir = join(tmpdir(), 'lucy-fake-graph-test');
  await mkdir(dir, { recursive: true });
  const tls = await loadOrCreateCertificate({
    certFile: join(dir, 'cert.pem'),
    keyFile: join(dir, 'key.pem'),
  });
  const previous = process.env.NODE_EXTRA_CA_CERTS;
  // Only one file is honoured: keep whatever another package's setup already trusts.
  let caFile = join(dir, 'cert.pem');
  if (previous) {
    const earlier = await readFile(previous, 'utf8').catch(() => '');
    caFile = join(dir, 'ca-bundle.pem');
    await writeFile(caFile, `${earlier.trimEnd()}\n${tls.cert}`);
  }
  process.env.NODE_EXTRA_CA_CERTS = caFile;
  project.provide('fakeGraphTls', { cert: tls.cert, key: tls.key, caFile });
  return () => {
    if (previous === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = previous;
  };
}
