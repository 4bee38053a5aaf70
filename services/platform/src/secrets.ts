import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Keys whose values are secrets wherever they appear (matched case-insensitively, `_`/`-` ignored). */
const SECRET_KEY_PATTERN =
  /pass(word)?|secret|token|authorization|cookie|apikey|credential(?!_?ref)|privatekey|wstoken|nkey|seed$/i;

/** Marker that replaces a secret value. */
export const REDACTED = '[REDACTED]';

/** Whether a key names a secret (`password`, `teams_password`, `clientSecret`, `wstoken`...). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key.replace(/[_-]/g, ''));
}

/**
 * Deep copy of a JSON-like value with every secret-named key replaced by `[REDACTED]`.
 * Used on command parameters and Tarea detalles before they are stored or logged.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > 20 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => redactSecrets(v, depth + 1)) as T;
  if (value instanceof Date || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] =
      isSecretKey(k) && v !== null && v !== undefined && v !== '' ? REDACTED : redactSecrets(v, depth + 1);
  }
  return out as T;
}

/** Removes credentials from a URL (`postgres://user:pw@host` → `postgres://user:***@host`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]+):[^@]+@/, '//$1:***@');
  }
}

/**
 * Authenticated encryption (AES-256-GCM) for secrets that must be stored, such as temporary passwords.
 * The key comes from configuration; rotating keys is supported by the `v1:` version prefix.
 */
export interface SecretBox {
  /** Encrypts a UTF-8 secret into `v1:<iv>:<tag>:<ciphertext>` (base64url parts). */
  seal(plaintext: string): string;
  /** Decrypts what `seal` produced; throws on tampering or a wrong key. */
  open(sealed: string): string;
}

/** Creates a SecretBox from a key of any length (hashed to 32 bytes with SHA-256). */
export function createSecretBox(key: string): SecretBox {
  if (key.length < 16) throw new Error('The encryption key must have at least 16 characters');
  const k = createHash('sha256').update(key, 'utf8').digest();
  return {
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', k, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        'v1',
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        ct.toString('base64url'),
      ].join(':');
    },
    open(sealed) {
      const [version, iv, tag, ct] = sealed.split(':');
      if (version !== 'v1' || !iv || !tag || ct === undefined)
        throw new Error('Unknown sealed secret format');
      const decipher = createDecipheriv('aes-256-gcm', k, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}
