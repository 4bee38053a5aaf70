import { describe, expect, it } from 'vitest';
import { createSecretBox, redactSecrets, redactUrl } from './secrets.js';

describe('secrets', () => {
  it('redacts secret-named keys at any depth and keeps the rest', () => {
    expect(
      redactSecrets({
        upn: 'a@b',
        password: 'x',
        nested: { teams_password: 'y', clientSecret: 'z', credentialRef: 'ref-1' },
        list: [{ token: 't' }],
      }),
    ).toEqual({
      upn: 'a@b',
      password: '[REDACTED]',
      nested: { teams_password: '[REDACTED]', clientSecret: '[REDACTED]', credentialRef: 'ref-1' },
      list: [{ token: '[REDACTED]' }],
    });
  });

  it('hides passwords in URLs', () => {
    expect(redactUrl('postgres://lucy:s3cret@db:5432/lucy')).toBe('postgres://lucy:***@db:5432/lucy');
  });

  it('seals and opens a secret, and detects tampering', () => {
    const box = createSecretBox('0123456789abcdef-key');
    const sealed = box.seal('Contraseña#1');
    expect(sealed).not.toContain('Contraseña');
    expect(box.open(sealed)).toBe('Contraseña#1');
    const parts = sealed.split(':');
    parts[3] = Buffer.from('tampered').toString('base64url');
    expect(() => box.open(parts.join(':'))).toThrow();
    expect(() => createSecretBox('0123456789abcdef-other').open(sealed)).toThrow();
  });
});
