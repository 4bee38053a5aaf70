import { ConfigError } from '@lucy/platform';
import { describe, expect, it } from 'vitest';
import { smtpTransportOptions } from './adapters/smtp.mailer.js';
import { loadConfig, loadSmtpConfig } from './config.js';

describe('smtp configuration', () => {
  it('defaults to the development sink with pooled connections and opportunistic STARTTLS', () => {
    const options = smtpTransportOptions(loadSmtpConfig({})) as Record<string, unknown>;
    expect(options).toMatchObject({
      host: '127.0.0.1',
      port: 1025,
      secure: false,
      pool: true,
      maxConnections: 3,
    });
    expect(options).not.toHaveProperty('auth');
    expect(options).not.toHaveProperty('requireTLS');
    expect(options).not.toHaveProperty('ignoreTLS');
    expect(options).not.toHaveProperty('rateLimit');
  });

  it('maps the relay settings of a production relay', () => {
    const options = smtpTransportOptions(
      loadSmtpConfig({
        SMTP_HOST: 'smtp.office365.com',
        SMTP_PORT: '587',
        SMTP_STARTTLS: 'required',
        SMTP_USER: 'lucy@fce.unrc.edu.ar',
        SMTP_PASSWORD: 'x',
        SMTP_MAX_CONNECTIONS: '2',
        SMTP_RATE_PER_MINUTE: '30',
        SMTP_SOCKET_TIMEOUT_MS: '30000',
      }),
    ) as Record<string, unknown>;
    expect(options).toMatchObject({
      host: 'smtp.office365.com',
      port: 587,
      requireTLS: true,
      auth: { user: 'lucy@fce.unrc.edu.ar', pass: 'x' },
      maxConnections: 2,
      socketTimeout: 30_000,
      logger: false,
      debug: false,
    });
    expect(smtpTransportOptions(loadSmtpConfig({ SMTP_STARTTLS: 'disabled' }))).toMatchObject({
      ignoreTLS: true,
    });
    expect(smtpTransportOptions(loadSmtpConfig({ SMTP_POOL: 'false' }))).not.toHaveProperty('pool');
  });

  it('maps implicit TLS and signs with DKIM only when domain, selector and key are all configured', () => {
    expect(smtpTransportOptions(loadSmtpConfig({ SMTP_SECURE: 'true', SMTP_PORT: '465' }))).toMatchObject({
      secure: true,
      port: 465,
    });
    const pem = '-----BEGIN PRIVATE KEY-----\\nMIIB\\n-----END PRIVATE KEY-----';
    const options = smtpTransportOptions(
      loadSmtpConfig({
        SMTP_DKIM_DOMAIN: 'fce.unrc.edu.ar',
        SMTP_DKIM_SELECTOR: 'lucy',
        SMTP_DKIM_PRIVATE_KEY: pem,
      }),
    ) as { dkim?: { domainName: string; keySelector: string; privateKey: string } };
    expect(options.dkim).toEqual({
      domainName: 'fce.unrc.edu.ar',
      keySelector: 'lucy',
      privateKey: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
    });
    expect(smtpTransportOptions(loadSmtpConfig({}))).not.toHaveProperty('dkim');
    expect(() => loadSmtpConfig({ SMTP_DKIM_DOMAIN: 'fce.unrc.edu.ar' })).toThrow(/SMTP_DKIM_PRIVATE_KEY/);
    expect(() =>
      loadSmtpConfig({ SMTP_DKIM_DOMAIN: 'a.b', SMTP_DKIM_SELECTOR: 's', SMTP_DKIM_PRIVATE_KEY: 'secreto' }),
    ).toThrow(/must be a PEM private key/);
    expect(() =>
      loadSmtpConfig({ SMTP_DKIM_DOMAIN: 'a.b', SMTP_DKIM_SELECTOR: 's', SMTP_DKIM_PRIVATE_KEY: 'secreto' }),
    ).not.toThrow(/secreto/);
  });

  it('reads the service variables with their defaults and refuses a bad RPC address', () => {
    const config = loadConfig({ RPC_TOKEN: 'x'.repeat(16) });
    expect(config).toMatchObject({
      RPC_PORT: 7105,
      IDENTITY_RPC_URL: 'http://127.0.0.1:7104',
      INGEST_RPC_URL: 'http://127.0.0.1:7103',
      SMTP_PORT: 1025,
      NOTIFY_CONCURRENCY: 16,
    });
    expect(() => loadConfig({ RPC_TOKEN: 'x'.repeat(16), IDENTITY_RPC_URL: 'identity:7104' })).toThrow(
      /IDENTITY_RPC_URL/,
    );
    expect(() => loadConfig({ RPC_TOKEN: 'x'.repeat(16), SMTP_USER: 'lucy' })).toThrow(/SMTP_PASSWORD/);
  });

  it('takes the secret box key ring as optional, and refuses a malformed one naming it', () => {
    const token = { RPC_TOKEN: 'x'.repeat(16) };
    expect(loadConfig(token)).toMatchObject({
      LUCY_SECRET_KEYS: undefined,
      NOTIFY_SETTINGS_REFRESH_MS: 10_000,
    });
    const ring = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
    expect(loadConfig({ ...token, LUCY_SECRET_KEYS: ring }).LUCY_SECRET_KEYS).toBe(ring);
    expect(() => loadConfig({ ...token, LUCY_SECRET_KEYS: 'k1:corta' })).toThrow(/LUCY_SECRET_KEYS/);
    expect(() => loadConfig({ ...token, NOTIFY_SETTINGS_REFRESH_MS: '10' })).toThrow(
      /NOTIFY_SETTINGS_REFRESH_MS/,
    );
  });

  it('refuses a user without a password and a malformed sender, naming the variables', () => {
    expect(() => loadSmtpConfig({ SMTP_USER: 'lucy' })).toThrow(ConfigError);
    expect(() => loadSmtpConfig({ SMTP_USER: 'lucy' })).toThrow(/SMTP_PASSWORD/);
    expect(() => loadSmtpConfig({ SMTP_FROM: 'no es una dirección' })).toThrow(/SMTP_FROM/);
    expect(loadSmtpConfig({ SMTP_FROM: 'ingreso@fce.unrc.edu.ar' }).SMTP_FROM).toBe(
      'ingreso@fce.unrc.edu.ar',
    );
  });
});
