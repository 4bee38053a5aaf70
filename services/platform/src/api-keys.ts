import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Named API keys for the RPC ports: each caller (the admin, the CLI, each outside system) has a key of its own,
 * with the services or methods it may call. Keys live in a JSON file (`RPC_API_KEYS_FILE`, e.g. a mounted
 * Secret) holding only SHA-256 hashes: a key is `lk_<id>_<secret>`, the secret 32 random bytes (256 bits, so a fast
 * hash is enough: nothing to brute-force), the id public and used to find the record. The servers re-read the
 * file when it changes, so keys are created, rotated and revoked without a restart (`lucy apikeys`).
 */

/** One grant: `*` (everything), `<package>.<Service>/*`, or `<package>.<Service>/<Method>`. */
const GRANT = /^(\*|[A-Za-z_][\w.]*\/(\*|[A-Za-z_]\w*))$/;

const ApiKeyRecordSchema = z.object({
  id: z.string().regex(/^[a-z0-9]{8,32}$/),
  /** Who calls with it; shown as `usuario` / `Lucy-Requested-By` when the request names no staff member. */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/),
  /** `sha256:<hex>` of the whole key. */
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  grants: z.array(z.string().regex(GRANT)).min(1),
  /**
   * May name a staff member as the requester (`requestedBy`): the admin's and the CLI's keys, which act for the
   * person signed in. Any other key is recorded as itself whatever `requestedBy` it sends, so a system cannot
   * claim a staff member's name (`lucy apikeys create --impersonar`).
   */
  onBehalfOf: z.boolean().optional(),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

const ApiKeysFileSchema = z.object({ keys: z.array(ApiKeyRecordSchema) });

/** A caller authenticated by a key. */
export interface ApiKeyCaller {
  readonly id: string;
  readonly name: string;
  readonly grants: readonly string[];
  /** Whether a request may name another requester (a staff member) than the key's name. */
  readonly onBehalfOf: boolean;
}

const KEY = /^lk_([a-z0-9]{8,32})_([A-Za-z0-9_-]{43})$/;

function hashKey(key: string): string {
  return `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/** Whether a caller's grants cover `<service>/<method>`. */
export function isGranted(grants: readonly string[], service: string, method: string): boolean {
  return grants.some((g) => g === '*' || g === `${service}/*` || g === `${service}/${method}`);
}

/** Reads and validates a keys file; a missing file is an empty set. @throws Error naming the file and the problem. */
export function readApiKeysFile(path: string): ApiKeyRecord[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = ApiKeysFileSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data.keys;
}

function writeApiKeysFile(path: string, keys: ApiKeyRecord[]): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  // Atomic: a server re-reading the file never sees half of it.
  renameSync(tmp, path);
}

/**
 * Runs a read-modify-write of the keys file holding `<file>.lock`, so two `lucy apikeys` at once cannot lose each
 * other's change (a revocation undone by a concurrent create would leave a leaked key working). A lock older than
 * 30 s is a crashed editor's and is taken over.
 */
function withFileLock<T>(path: string, edit: () => T): T {
  const lock = `${path}.lock`;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) unlinkSync(lock);
      } catch {
        // Released meanwhile: try again.
      }
      if (Date.now() > deadline)
        throw new Error(`${path}: otro proceso está editando el archivo de claves (${lock}); reintente`);
      Atomics.wait(sleeper, 0, 0, 5);
    }
  }
  try {
    return edit();
  } finally {
    unlinkSync(lock);
  }
}

/**
 * Adds a key for `name` with `grants` and returns it — the only time the key exists in clear. Another key of the
 * same name may exist (rotation: hand out the new one, then revoke the old).
 */
export function createApiKey(
  path: string,
  name: string,
  grants: readonly string[],
  now: Date = new Date(),
  options: { onBehalfOf?: boolean } = {},
): { key: string; record: ApiKeyRecord } {
  return withFileLock(path, () => {
    const keys = readApiKeysFile(path);
    const id = randomBytes(6).toString('hex');
    const key = `lk_${id}_${randomBytes(32).toString('base64url')}`;
    const record = ApiKeyRecordSchema.parse({
      id,
      name,
      hash: hashKey(key),
      grants: [...grants],
      ...(options.onBehalfOf ? { onBehalfOf: true } : {}),
      createdAt: now.toISOString(),
    });
    writeApiKeysFile(path, [...keys, record]);
    return { key, record };
  });
}

/** Marks a key revoked (kept for the audit); false when no key has that id. */
export function revokeApiKey(path: string, id: string, now: Date = new Date()): boolean {
  return withFileLock(path, () => {
    const keys = readApiKeysFile(path);
    const k = keys.find((x) => x.id === id);
    if (!k) return false;
    if (!k.revokedAt) k.revokedAt = now.toISOString();
    writeApiKeysFile(path, keys);
    return true;
  });
}

/** The keys of a file, re-read when the file changes (checked at most every `recheckMs`, default 1 s). */
export interface ApiKeyStore {
  /** The caller of a presented key, or undefined (unknown, revoked, malformed). */
  authenticate(key: string): ApiKeyCaller | undefined;
}

export function createApiKeyStore(
  path: string,
  options: { recheckMs?: number; onError?: (err: unknown) => void } = {},
): ApiKeyStore {
  const recheckMs = options.recheckMs ?? 1000;
  let byId = new Map<string, ApiKeyRecord>();
  let stamp = '';
  let checkedAt = -Infinity;
  const load = () => {
    let next = '';
    try {
      const s = statSync(path);
      next = `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      next = 'missing';
    }
    if (next === stamp) return;
    try {
      byId = new Map(readApiKeysFile(path).map((k) => [k.id, k]));
      stamp = next;
    } catch (err) {
      // A broken edit keeps the keys last read; the next change is tried again.
      options.onError?.(err);
    }
  };
  load();
  return {
    authenticate(key) {
      const now = Date.now();
      if (now - checkedAt >= recheckMs) {
        checkedAt = now;
        load();
      }
      const m = KEY.exec(key);
      if (!m) return undefined;
      const record = byId.get(m[1]!);
      if (!record || record.revokedAt) return undefined;
      const got = Buffer.from(hashKey(key));
      const expected = Buffer.from(record.hash);
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) return undefined;
      return {
        id: record.id,
        name: record.name,
        grants: record.grants,
        onBehalfOf: record.onBehalfOf === true,
      };
    },
  };
}
