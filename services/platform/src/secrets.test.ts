import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';
import { createSecretBox, parseSecretKeys, redactSecrets, redactUrl, SecretBoxError } from './secrets.js';

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

  it('hides the value a protobuf decoding error quotes for a secret-named field, and only for one', () => {
    const secret =
      'cannot decode field lucy.ingest.v1.UpdateConfiguracionRequest.sial_password from JSON: expected string, got 8675309';
    expect(redactSecrets(secret)).toBe(
      'cannot decode field lucy.ingest.v1.UpdateConfiguracionRequest.sial_password from JSON: [REDACTED]',
    );
    const plain =
      'cannot decode field lucy.notify.v1.UpdateConfiguracionCorreoRequest.usuario from JSON: expected string, got 12';
    expect(redactSecrets(plain)).toBe(plain);
  });

  it('hides passwords in URLs', () => {
    expect(redactUrl('postgres://lucy:s3cret@db:5432/lucy')).toBe('postgres://lucy:***@db:5432/lucy');
  });
});

const key = (fill: number) => Buffer.alloc(32, fill);
const b64 = (b: Buffer) => b.toString('base64');
const AAD = 'identity.credencial:6f1c2a9e-0000-4000-8000-000000000001:password';

describe('secret box', () => {
  const box = createSecretBox({ keys: { k1: randomBytes(32) }, currentKeyId: 'k1' });

  it('seals into v2:<kid>:<iv>:<tag>:<ct> and opens with the same associated data', () => {
    const sealed = box.seal('Contraseña#1', AAD);
    expect(sealed).not.toContain('Contraseña');
    const parts = sealed.split(':');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v2');
    expect(parts[1]).toBe('k1');
    expect(Buffer.from(parts[2]!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3]!, 'base64url')).toHaveLength(16);
    expect(box.open(sealed, AAD)).toBe('Contraseña#1');
    expect(box.seal('Contraseña#1', AAD)).not.toBe(sealed);
  });

  it('refuses a tag truncated to 4, 12 or 15 bytes', () => {
    const sealed = box.seal('Contraseña#1', AAD);
    const parts = sealed.split(':');
    const tag = Buffer.from(parts[3]!, 'base64url');
    for (const n of [4, 12, 15]) {
      const cut = [...parts];
      cut[3] = tag.subarray(0, n).toString('base64url');
      expect(() => box.open(cut.join(':'), AAD)).toThrow(SecretBoxError);
    }
  });

  it('refuses a value moved to another record or field', () => {
    const sealed = box.seal('Contraseña#1', AAD);
    expect(() => box.open(sealed, AAD.replace('0001', '0002'))).toThrow(SecretBoxError);
    expect(() => box.open(sealed, 'identity.credencial:6f1c2a9e-0000-4000-8000-000000000001:pin')).toThrow(
      /does not authenticate/,
    );
    expect(() => box.open(sealed, '')).toThrow(SecretBoxError);
    expect(() => box.seal('x', '')).toThrow(SecretBoxError);
  });

  it('refuses a changed ciphertext, iv or tag, and unknown formats', () => {
    const sealed = box.seal('Contraseña#1', AAD);
    for (const index of [2, 3, 4]) {
      const parts = sealed.split(':');
      const bytes = Buffer.from(parts[index]!, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      parts[index] = bytes.toString('base64url');
      expect(() => box.open(parts.join(':'), AAD)).toThrow(SecretBoxError);
    }
    expect(() => box.open(sealed.replace(/^v2/, 'v1'), AAD)).toThrow(/format/);
    expect(() => box.open(`${sealed}:extra`, AAD)).toThrow(/format/);
    expect(() => box.open(sealed.replace(/:[^:]*$/, ':no base64!'), AAD)).toThrow(/format/);
  });

  it('opens old values after rotation, seals with the current key id and says what needs re-sealing', () => {
    const old = createSecretBox({ keys: { '2025': key(1) }, currentKeyId: '2025' });
    const sealedOld = old.seal('vieja', AAD);
    const rotated = createSecretBox({ keys: { '2025': key(1), '2026': key(2) }, currentKeyId: '2026' });
    expect(rotated.currentKeyId).toBe('2026');
    expect(rotated.open(sealedOld, AAD)).toBe('vieja');
    expect(rotated.needsReseal(sealedOld)).toBe(true);
    const resealed = rotated.seal(rotated.open(sealedOld, AAD), AAD);
    expect(resealed.split(':')[1]).toBe('2026');
    expect(rotated.needsReseal(resealed)).toBe(false);
    // A box that dropped the old key cannot open it, and says which key id is missing.
    const dropped = createSecretBox({ keys: { '2026': key(2) }, currentKeyId: '2026' });
    expect(() => dropped.open(sealedOld, AAD)).toThrow(/Unknown secret key id "2025"/);
    // Same key id, different key material: refused, not garbage.
    const impostor = createSecretBox({ keys: { '2025': key(9) }, currentKeyId: '2025' });
    expect(() => impostor.open(sealedOld, AAD)).toThrow(SecretBoxError);
  });

  it('refuses keys that are not exactly 32 bytes and a current key id outside the keyring', () => {
    expect(() => createSecretBox({ keys: { k: Buffer.alloc(16) }, currentKeyId: 'k' })).toThrow(/32 bytes/);
    expect(() => createSecretBox({ keys: { k: Buffer.alloc(33) }, currentKeyId: 'k' })).toThrow(/32 bytes/);
    expect(() => createSecretBox({ keys: { k: key(1) }, currentKeyId: 'other' })).toThrow(
      /not in the keyring/,
    );
    expect(() => createSecretBox({ keys: { 'a:b': key(1) }, currentKeyId: 'a:b' })).toThrow(/key id/);
  });

  it('parses a keyring from configuration and names the variable, never the key, when it is wrong', () => {
    const keys = parseSecretKeys(`k1:${b64(key(1))}, k2:${key(2).toString('base64url')}`);
    expect(Object.keys(keys).sort()).toEqual(['k1', 'k2']);
    expect(keys.k1!.equals(key(1))).toBe(true);
    expect(keys.k2!.equals(key(2))).toBe(true);
    const short = b64(Buffer.alloc(16, 7));
    const wrong = [
      ['', /at least one key/],
      [`k1${b64(key(1))}`, /kid:base64key/],
      [`k1:${short}`, /exactly 32 bytes.*has 16/],
      [`k1:${b64(Buffer.alloc(48, 7))}`, /exactly 32 bytes/],
      [`k1:not*base64*at*all*not*base64*at*all*xxxx`, /not base64/],
      [`k1:${b64(key(1))},k1:${b64(key(2))}`, /appears twice/],
      [`bad id:${b64(key(1))}`, /key id/],
    ] as const;
    for (const [text, reason] of wrong) {
      let err: unknown;
      try {
        parseSecretKeys(text, 'VAULT_KEYS');
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^Invalid configuration: VAULT_KEYS: /);
      expect((err as Error).message).toMatch(reason);
      expect((err as Error).message).not.toContain(short);
      expect((err as Error).message).not.toContain(b64(key(1)));
    }
  });
});
