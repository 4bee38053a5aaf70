import { errorMessage, type Buckets, type Logger } from '@lucy/platform';

type Kv = Buckets['leases'];

/** The value stored under the lease key. JetStream KV on NATS 2.9 has no per-key TTL, so expiry is data. */
export interface LeaseValue {
  holder: string;
  /** Epoch ms after which another replica may take the lease over. */
  expiresAt: number;
}

/** What a replica knows of the lease. */
export interface LeaseState {
  /** Whether this replica holds a valid lease right now (by its own clock). */
  isLeader: boolean;
  /** Holder seen at the last read or write, '' when none. */
  holder: string;
  /** KV revision of the lease entry: the fencing token. */
  revision: number;
  expiresAt: number;
}

/** Options of {@link createLeaderLease}. */
export interface LeaderLeaseOptions {
  kv: Kv;
  /** KV key; default `scheduler.leader`. */
  key?: string;
  /** This replica's identity (INSTANCE_ID). */
  holder: string;
  /** Lease duration in ms; renewed every third of it. */
  ttlMs: number;
  clock: () => Date;
  logger: Logger;
  /** Called when this replica becomes leader, with the fencing token. */
  onAcquired: (revision: number) => void;
  /** Called when this replica stops being leader (lost CAS, NATS error, expiry, stop). */
  onLost: (reason: string) => void;
}

/** A leader lease in a JetStream KV bucket, renewed by compare-and-set on the entry revision. */
export interface LeaderLease {
  start(): void;
  /** Stops renewing and releases the lease (expires it at once) when held. */
  stop(): Promise<void>;
  state(): LeaseState;
  /** True when this replica holds the lease and it has not expired by the local clock. */
  valid(): boolean;
  /** Reads the lease entry from the bucket (for status on followers). */
  read(): Promise<{ value: LeaseValue | null; revision: number }>;
}

function parse(text: string): LeaseValue | null {
  try {
    const v = JSON.parse(text) as Partial<LeaseValue>;
    return typeof v.holder === 'string' && typeof v.expiresAt === 'number'
      ? { holder: v.holder, expiresAt: v.expiresAt }
      : null;
  } catch {
    return null;
  }
}

/**
 * Creates a {@link LeaderLease}. Every `ttl/3` each replica reads the key: absent → `create` (fails if another
 * replica created it first); held by us → `update(key, value, revision)`; held by another but expired →
 * `update` on the revision read (only one contender's CAS wins). A failed renewal, or a renewal that did not
 * happen before expiry, drops leadership at once; the KV revision of the winning write is the fencing token.
 */
export function createLeaderLease(options: LeaderLeaseOptions): LeaderLease {
  const { kv, holder, ttlMs, clock, logger } = options;
  const key = options.key ?? 'scheduler.leader';
  const state: LeaseState = { isLeader: false, holder: '', revision: 0, expiresAt: 0 };
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let running: Promise<void> = Promise.resolve();

  const lose = (reason: string) => {
    if (!state.isLeader) return;
    state.isLeader = false;
    logger.warn({ reason, revision: state.revision }, 'scheduler leadership lost');
    options.onLost(reason);
  };
  const win = (revision: number, expiresAt: number, how: string) => {
    const was = state.isLeader;
    state.isLeader = true;
    state.holder = holder;
    state.revision = revision;
    state.expiresAt = expiresAt;
    if (!was) {
      logger.info({ revision, how }, 'scheduler leadership acquired');
      options.onAcquired(revision);
    }
  };
  const encode = (expiresAt: number) => JSON.stringify({ holder, expiresAt } satisfies LeaseValue);

  async function attempt(): Promise<void> {
    const now = clock().getTime();
    const expiresAt = now + ttlMs;
    if (state.isLeader && now >= state.expiresAt) lose('lease expired before renewal');
    try {
      const entry = await kv.get(key);
      const current = entry && entry.operation === 'PUT' ? parse(entry.string()) : null;
      if (!entry) {
        const revision = await kv.create(key, encode(expiresAt));
        return win(revision, expiresAt, 'created');
      }
      if (current && current.holder === holder && state.isLeader && entry.revision === state.revision) {
        const revision = await kv.update(key, encode(expiresAt), entry.revision);
        return win(revision, expiresAt, 'renewed');
      }
      if (current && current.holder !== holder && current.expiresAt > now) {
        lose(`held by ${current.holder}`);
        state.holder = current.holder;
        state.revision = entry.revision;
        state.expiresAt = current.expiresAt;
        return;
      }
      // Absent value, expired lease, or our own lease from a previous life: take it over by CAS.
      const revision = await kv.update(key, encode(expiresAt), entry.revision);
      return win(revision, expiresAt, current ? `taken over from ${current.holder}` : 'taken over');
    } catch (err) {
      lose(`lease write failed: ${errorMessage(err)}`);
      logger.debug({ err: errorMessage(err) }, 'lease attempt failed');
    }
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(
      () => {
        running = attempt().finally(schedule);
      },
      Math.max(50, Math.floor(ttlMs / 3)),
    );
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      running = attempt().finally(schedule);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
      if (state.isLeader) {
        const revision = state.revision;
        lose('stopping');
        // Expire it now so a follower takes over at its next attempt instead of after the TTL.
        await kv.update(key, encode(0), revision).catch(() => undefined);
      }
    },
    state: () => ({ ...state }),
    valid: () => state.isLeader && clock().getTime() < state.expiresAt,
    async read() {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') return { value: null, revision: entry?.revision ?? 0 };
      return { value: parse(entry.string()), revision: entry.revision };
    },
  };
}
