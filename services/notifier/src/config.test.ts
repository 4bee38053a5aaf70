import { ConfigError } from '@lucy/platform';
import { describe, expect, it } from 'vitest';
import { smtpTransportOptions } from './adapters/smtp.mailer.js';
import { loadSmtpConfig } from './config.js';

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
      rateDelta: 60_000,
      rateLimit: 30,
      socketTimeout: 30_000,
      logger: false,
      debug: false,
    });
    expect(smtpTransportOptions(loadSmtpConfig({ SMTP_STARTTLS: 'disabled' }))).toMatchObject({
      ignoreTLS: true,
    });
    expect(smtpTransportOptions(loadSmtpConfig({ SMTP_POOL: 'false' }))).not.toHaveProperty('pool');
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
