import { describe, expect, it } from 'vitest';
import { graphCredentialOf, loadConfig } from './config.js';

const base = {
  RPC_TOKEN: 'test-token-0123456789',
  LUCY_SECRET_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
  GRAPH_TENANT_ID: 't',
  GRAPH_CLIENT_ID: 'c',
  IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
};

describe('identity-teams configuration: the Graph credential', () => {
  it('takes the secret, a certificate file or the certificate PEM (literal \\n turned into new lines)', () => {
    expect(graphCredentialOf(loadConfig({ ...base, GRAPH_CLIENT_SECRET: 's3' }))).toEqual({
      clientSecret: 's3',
    });
    expect(graphCredentialOf(loadConfig({ ...base, GRAPH_CLIENT_CERTIFICATE_PATH: '/run/app.pem' }))).toEqual(
      {
        clientCertificate: { path: '/run/app.pem' },
      },
    );
    expect(graphCredentialOf(loadConfig({ ...base, GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY: 'a\\nb' }))).toEqual(
      { clientCertificate: { pem: 'a\nb' } },
    );
  });

  it('refuses none or more than one, naming the variables and never their values', () => {
    expect(() => loadConfig(base)).toThrow(/GRAPH_CLIENT_SECRET: set exactly one of .* \(none is set\)/);
    let message = '';
    try {
      loadConfig({ ...base, GRAPH_CLIENT_SECRET: 'secreto-Qz', GRAPH_CLIENT_CERTIFICATE_PATH: '/x.pem' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('GRAPH_CLIENT_SECRET and GRAPH_CLIENT_CERTIFICATE_PATH are set');
    expect(message).not.toContain('secreto-Qz');
  });
});
