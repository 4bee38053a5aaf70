import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from './errors.js';

/**
 * Keys whose values are secrets wherever they appear, matched on the key lower-cased with accents, `_`, `-`, `.`
 * and spaces removed (`Client_Secret`, `x-api-key`, `contraseña`). English and Spanish names.
 */
const SECRET_KEY_PATTERN =
  /pass(word|wd|phrase)?|pwd|secret|secreto|token|authorization|^auth$|auth$|^authheader|cookie|apikey|accesskey|signingkey|encryptionkey|privatekey|credential(?!ref)|credencial(?!ref)|nkey|seed$|clave|contrasena|contrasenia|bearer|sessionid/;

/** Marker that replaces a secret value. */
export const REDACTED = '[REDACTED]';

function normalizeKey(key: string): string {
  return key
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[\s_.-]/g, '');
}

/** Whether a key names a secret (`password`, `teams_password`, `clientSecret`, `Authorization`, `contraseña`...). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(normalizeKey(key));
}

/** `scheme://user:password@` in any string. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]*)@/gi;
/** `Bearer abc`, `Basic dXNlcjpwdw==` in any string (a logged header line, an error message). */
const AUTH_SCHEMES = /\b(Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{4,}/gi;
/** A query parameter or `key=value` pair named like a secret: `?wstoken=…`, `password=…`. */
const SECRET_PAIRS =
  /([?&;\s]|^)([^\s=&?;]*(?:pass|pwd|secret|token|auth|clave|contrase(?:n|ñ)a|apikey|api_key|signature|sig)[^\s=&?;]*)=([^\s&;#]+)/gi;

/**
 * A protobuf decoding error about one field, which quotes the value received (`cannot decode field
 * lucy.notify.v1.UpdateConfiguracionCorreoRequest.password from JSON: expected string, got 8675309`): the framework
 * raises it for a request whose field has the wrong JSON type, before any handler runs.
 */
const DECODE_FIELD = /(\bfield (?:[\w]+\.)*([\w]+) from JSON: )([^\n]*)/g;

/**
 * Removes credentials from free text: URLs with a password, bearer/basic values, secret-named `k=v` pairs, the
 * value a protobuf decoding error quotes for a secret-named field.
 */
export function redactString(text: string): string {
  return text
    .replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:***@`)
    .replace(AUTH_SCHEMES, (_m, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(SECRET_PAIRS, (_m, lead: string, key: string) => `${lead}${key}=${REDACTED}`)
    .replace(DECODE_FIELD, (m, lead: string, field: string) =>
      isSecretKey(field) ? `${lead}${REDACTED}` : m,
    );
}

/** Deeper than this a value is replaced, so a pathological object cannot stall the logger. */
const MAX_DEPTH = 64;

/**
 * The one redactor: a deep copy of any value with every secret-named key (any case, English or Spanish)
 * replaced by `[REDACTED]`, credentials removed from every string, errors turned into plain objects with their
 * own properties (`options.auth.pass`, `config.headers.Authorization`, `cause`) redacted as well. Cycles are cut.
 * The logger applies it to every record; reporters apply it to stored command parameters and Tarea detalles.
 */
export function redact<T>(value: T): T {
  return redactValue(value, 0, new WeakSet()) as T;
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[demasiado profundo]';
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (seen.has(value)) return '[ciclo]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
    if (value instanceof Error) return redactError(value, depth, seen);
    if (value instanceof URL) return redactString(redactUrl(value.toString()));
    if (value instanceof Map)
      return redactEntries(
        [...value.entries()].map(([k, v]) => [String(k), v]),
        depth,
        seen,
      );
    if (value instanceof Set) return [...value].map((v) => redactValue(v, depth + 1, seen));
    if (typeof Headers !== 'undefined' && value instanceof Headers)
      return redactEntries([...value.entries()], depth, seen);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function')
      return redactValue((toJSON as () => unknown).call(value), depth + 1, seen);
    return redactEntries(Object.entries(value as Record<string, unknown>), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function redactEntries(
  entries: [string, unknown][],
  depth: number,
  seen: WeakSet<object>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    out[k] =
      isSecretKey(k) && v !== null && v !== undefined && v !== ''
        ? REDACTED
        : redactValue(v, depth + 1, seen);
  }
  return out;
}

/** An error as pino's serializer shapes it (`type`, `message`, `stack`), plus every own property, redacted. */
function redactError(err: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const entries: [string, unknown][] = [
    ['type', err.name],
    ['message', err.message],
    ['stack', err.stack],
  ];
  for (const key of Object.getOwnPropertyNames(err)) {
    if (key === 'message' || key === 'stack') continue;
    entries.push([key, (err as unknown as Record<string, unknown>)[key]]);
  }
  if (err instanceof AggregateError && !Object.hasOwn(err, 'errors')) entries.push(['errors', err.errors]);
  return redactEntries(entries, depth, seen);
}

/**
 * Deep copy of a JSON-like value with secrets redacted (see {@link redact}). Used on command parameters and
 * Tarea detalles before they are stored or logged.
 */
export function redactSecrets<T>(value: T): T {
  return redact(value);
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

/** Length of every key of the secret box: AES-256. */
export const SECRET_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_VERSION = 'v2';
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

/** Keyring of the secret box: key id → 32-byte key, and the id new values are sealed with. */
export interface SecretBoxOptions {
  keys: Record<string, Buffer>;
  currentKeyId: string;
}

/**
 * Authenticated encryption (AES-256-GCM, 16-byte tag) for secrets that must be stored, such as temporary
 * passwords. Each sealed value names its key id, so a keyring can hold old keys (still opened) and a current
 * one (used to seal); the associated data binds a value to its record and field, so it cannot be moved.
 */
export interface SecretBox {
  /** `v2:<kid>:<iv>:<tag>:<ct>` (base64url), AES-256-GCM, 16-byte tag, `aad` bound as associated data (e.g. `identity.credencial:<alumnoId>:password`). */
  seal(plaintext: string, aad: string): string;
  /** Opens any known key id; throws on a wrong aad, truncated/changed tag, unknown kid or tampering. */
  open(sealed: string, aad: string): string;
  /** Whether the value was sealed with a key other than the current one (re-seal on rotation). */
  needsReseal(sealed: string): boolean;
  readonly currentKeyId: string;
}

/** Why a sealed value cannot be opened. The message never contains the value or the plaintext. */
export class SecretBoxError extends Error {
  override readonly name = 'SecretBoxError';
}

/**
 * Parses `kid1:base64key,kid2:base64key` (each key exactly 32 random bytes, base64); throws a
 * {@link ConfigError} naming the variable (and never the key material).
 */
export function parseSecretKeys(text: string, variable = 'LUCY_SECRET_KEYS'): Record<string, Buffer> {
  const fail = (reason: string): never => {
    throw new ConfigError(`Invalid configuration: ${variable}: ${reason}`);
  };
  const keys: Record<string, Buffer> = Object.create(null) as Record<string, Buffer>;
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0)
    fail('must list at least one key as kid:base64key (generate one with `openssl rand -base64 32`)');
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) fail(`entry ${index + 1} must be kid:base64key`);
    const kid = entry.slice(0, colon);
    const encoded = entry.slice(colon + 1).trim();
    if (!KEY_ID_PATTERN.test(kid))
      fail(`entry ${index + 1}: the key id must be 1-32 letters, digits, _ or -`);
    if (Object.hasOwn(keys, kid)) fail(`key id "${kid}" appears twice`);
    const standard = encoded.replace(/-/g, '+').replace(/_/g, '/');
    const padded = standard + '='.repeat((4 - (standard.length % 4)) % 4);
    if (!BASE64_PATTERN.test(padded)) fail(`key "${kid}" is not base64`);
    const key = Buffer.from(padded, 'base64');
    if (key.length !== SECRET_KEY_BYTES)
      fail(
        `key "${kid}" must be exactly ${SECRET_KEY_BYTES} bytes of base64 (it has ${key.length}); generate one with \`openssl rand -base64 32\``,
      );
    keys[kid] = key;
  });
  return keys;
}

/** Creates a {@link SecretBox} from a keyring; throws if a key is not 32 bytes or the current id is missing. */
export function createSecretBox(options: SecretBoxOptions): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const [kid, key] of Object.entries(options.keys)) {
    if (!KEY_ID_PATTERN.test(kid))
      throw new Error(`Secret key id "${kid.slice(0, 40)}" must be 1-32 letters, digits, _ or -`);
    if (!Buffer.isBuffer(key) || key.length !== SECRET_KEY_BYTES)
      throw new Error(`Secret key "${kid}" must be exactly ${SECRET_KEY_BYTES} bytes`);
    // A private copy: the caller's buffer may be reused or zeroed.
    keys.set(kid, Buffer.from(key));
  }
  const currentKeyId = options.currentKeyId;
  const currentKey = keys.get(currentKeyId);
  if (!currentKey) throw new Error(`The current secret key id "${currentKeyId}" is not in the keyring`);

  // The header is authenticated with the caller's data, so neither the key id nor the aad can be swapped.
  const associated = (kid: string, aad: string) => Buffer.from(`${SEALED_VERSION}:${kid}:${aad}`, 'utf8');
  const checkAad = (aad: string) => {
    if (typeof aad !== 'string' || aad === '')
      throw new SecretBoxError('The associated data (record and field) is required');
  };

  const parse = (sealed: string) => {
    if (typeof sealed !== 'string') throw new SecretBoxError('Unknown sealed secret format');
    const parts = sealed.split(':');
    if (parts[0] !== SEALED_VERSION || parts.length !== 5)
      throw new SecretBoxError('Unknown sealed secret format');
    const [, kid, iv, tag, ct] = parts as [string, string, string, string, string];
    if (!KEY_ID_PATTERN.test(kid) || ![iv, tag, ct].every((p) => BASE64URL_PATTERN.test(p)))
      throw new SecretBoxError('Unknown sealed secret format');
    return {
      kid,
      iv: Buffer.from(iv, 'base64url'),
      tag: Buffer.from(tag, 'base64url'),
      ct: Buffer.from(ct, 'base64url'),
    };
  };

  return {
    currentKeyId,
    seal(plaintext, aad) {
      if (typeof plaintext !== 'string') throw new SecretBoxError('Only text can be sealed');
      checkAad(aad);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(associated(currentKeyId, aad));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [
        SEALED_VERSION,
        currentKeyId,
        iv.toString('base64url'),
        cipher.getAuthTag().toString('base64url'),
        ct.toString('base64url'),
      ].join(':');
    },
    open(sealed, aad) {
      checkAad(aad);
      const { kid, iv, tag, ct } = parse(sealed);
      const key = keys.get(kid);
      if (!key) throw new SecretBoxError(`Unknown secret key id "${kid}"`);
      // Fixed lengths: GCM would otherwise accept a tag cut to 4 bytes.
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES)
        throw new SecretBoxError('Unknown sealed secret format');
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(associated(kid, aad));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
      } catch (err) {
        throw new SecretBoxError(
          'The sealed secret does not authenticate (tampered, or sealed for another record or field)',
          { cause: err },
        );
      }
    },
    needsReseal(sealed) {
      return parse(sealed).kid !== currentKeyId;
    },
  };
}
