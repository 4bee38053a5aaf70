/**
 * The fake's TLS identity: a self-signed certificate for the loopback names, generated with `selfsigned` or loaded
 * from PEM files, so clients can trust it with `NODE_EXTRA_CA_CERTS` (Graph and Entra clients refuse plain HTTP).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generate } from 'selfsigned';

/** A certificate and its private key, PEM encoded. The certificate is self-signed: it is also the CA to trust. */
export interface FakeGraphTls {
  cert: string;
  key: string;
}

/** Names every generated certificate covers. */
export const DEFAULT_TLS_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const IP_V4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Generates a self-signed certificate (EC P-256, SHA-256) for `hosts` (DNS names and IP addresses), valid from one
 * hour ago for `days` days (default 825). It carries `basicConstraints cA` so it can be installed as a trust anchor.
 */
export async function generateCertificate(
  hosts: readonly string[] = DEFAULT_TLS_HOSTS,
  days = 825,
): Promise<FakeGraphTls> {
  const notBeforeDate = new Date(Date.now() - 3_600_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000);
  const unique = [...new Set(hosts)];
  const pems = await generate([{ name: 'commonName', value: unique[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: unique.map((h) =>
          IP_V4.test(h) || h.includes(':') ? { type: 7 as const, ip: h } : { type: 2 as const, value: h },
        ),
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Whether a PEM certificate is valid for at least `marginMs` more and names every one of `hosts`. */
export function certificateCovers(certPem: string, hosts: readonly string[], marginMs = 86_400_000): boolean {
  const x509 = new X509Certificate(certPem);
  if (new Date(x509.validTo).getTime() - Date.now() < marginMs) return false;
  return hosts.every((h) => x509.checkHost(h) !== undefined || x509.checkIP(h) !== undefined);
}

/**
 * Loads the certificate and key from the two files when both exist and the certificate still covers `hosts`;
 * otherwise generates a new pair and writes it there (key with mode 0600). Reusing the files keeps a client's
 * `NODE_EXTRA_CA_CERTS` valid across restarts of the fake.
 */
export async function loadOrCreateCertificate(options: {
  certFile: string;
  keyFile: string;
  hosts?: readonly string[];
}): Promise<FakeGraphTls & { created: boolean }> {
  const hosts = options.hosts ?? DEFAULT_TLS_HOSTS;
  const existing = await Promise.all([
    readFile(options.certFile, 'utf8').catch(() => undefined),
    readFile(options.keyFile, 'utf8').catch(() => undefined),
  ]);
  const [cert, key] = existing;
  if (cert !== undefined && key !== undefined && certificateCovers(cert, hosts)) {
    return { cert, key, created: false };
  }
  const fresh = await generateCertificate(hosts);
  await mkdir(dirname(options.certFile), { recursive: true });
  await mkdir(dirname(options.keyFile), { recursive: true });
  await writeFile(options.keyFile, fresh.key, { mode: 0o600 });
  await writeFile(options.certFile, fresh.cert, { mode: 0o644 });
  return { ...fresh, created: true };
}

/**
 * Generates an app's client certificate for the certificate credential (RSA 2048, SHA-256, self-signed, valid from
 * one hour ago for `days` days): `cert` is registered on the fake's app (`FakeGraphApp.certificates`), `key` and
 * `cert` together are the PEM the client signs its assertions with.
 */
export async function generateClientCertificate(
  commonName = 'lucy-identity-teams',
  days = 365,
): Promise<FakeGraphTls> {
  const notBeforeDate = new Date(Date.now() - 3_600_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'rsa',
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
  });
  return { cert: pems.cert, key: pems.private };
}
