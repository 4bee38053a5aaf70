import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { credsAuthenticator, nkeyAuthenticator } from '@nats-io/nats-core';
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { readConfigFile } from './config.js';
import type { Logger } from './logger.js';
import type { Names } from './names.js';

/** NATS connection settings (all optional but the servers). */
export interface NatsSettings {
  /** Comma-separated server URLs. */
  NATS_URL: string;
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
  NATS_TOKEN?: string | undefined;
  NATS_NKEY_SEED?: string | undefined;
  NATS_CREDS_FILE?: string | undefined;
  NATS_TLS_CA?: string | undefined;
  NATS_TLS_CERT?: string | undefined;
  NATS_TLS_KEY?: string | undefined;
  /** Reply subject prefix (default `_INBOX`); a service user of lucy-auth.conf may subscribe to its own only. */
  NATS_INBOX_PREFIX?: string | undefined;
  /** How long the first connection may take before start-up fails, ms; 0 or absent waits forever. */
  NATS_CONNECT_TIMEOUT_MS?: number | undefined;
}

/** Everything a service needs from NATS. */
export interface NatsHandles {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kvm: Kvm;
}

/**
 * Connects to NATS with unlimited reconnects (services must survive server restarts), authenticating with
 * user/password, token, NKEY seed or a creds file, optionally over TLS. Status changes are logged.
 */
export async function connectNats(
  settings: NatsSettings,
  logger: Logger,
  name: string,
): Promise<NatsHandles> {
  const opts: NodeConnectionOptions = {
    servers: settings.NATS_URL.split(',').map((s) => s.trim()),
    name,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    pingInterval: 10_000,
    waitOnFirstConnect: true,
    // With async traces every request (each acked publish, KV write, ack) builds two Error objects up front for
    // their stack: 17 % of a worker's CPU in the pipeline profile (docs/benchmarks.md, pipeline).
    noAsyncTraces: true,
    ...(settings.NATS_INBOX_PREFIX ? { inboxPrefix: settings.NATS_INBOX_PREFIX } : {}),
  };
  if (settings.NATS_USER) {
    opts.user = settings.NATS_USER;
    opts.pass = settings.NATS_PASSWORD ?? '';
  }
  if (settings.NATS_TOKEN) opts.token = settings.NATS_TOKEN;
  if (settings.NATS_NKEY_SEED)
    opts.authenticator = nkeyAuthenticator(new TextEncoder().encode(settings.NATS_NKEY_SEED));
  if (settings.NATS_CREDS_FILE) {
    opts.authenticator = credsAuthenticator(
      new TextEncoder().encode(readConfigFile('NATS_CREDS_FILE', settings.NATS_CREDS_FILE)),
    );
  }
  if (settings.NATS_TLS_CA || settings.NATS_TLS_CERT) {
    opts.tls = {
      ...(settings.NATS_TLS_CA ? { ca: readConfigFile('NATS_TLS_CA', settings.NATS_TLS_CA) } : {}),
      ...(settings.NATS_TLS_CERT ? { cert: readConfigFile('NATS_TLS_CERT', settings.NATS_TLS_CERT) } : {}),
      ...(settings.NATS_TLS_KEY ? { key: readConfigFile('NATS_TLS_KEY', settings.NATS_TLS_KEY) } : {}),
    };
  }
  const nc = await firstConnection(connect(opts), settings);
  logger.info({ server: nc.getServer() }, 'connected to NATS');
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        logger.warn({ nats: s.type, server: 'server' in s ? s.server : undefined }, `NATS ${s.type}`);
      }
    }
  })();
  const jsm = await jetstreamManager(nc);
  return { nc, js: jetstream(nc), jsm, kvm: new Kvm(nc) };
}

/**
 * The first connection, bounded by NATS_CONNECT_TIMEOUT_MS: a service must not sit at start-up forever without
 * saying why. A connection that arrives after the deadline is closed.
 */
async function firstConnection(
  pending: Promise<NatsConnection>,
  settings: NatsSettings,
): Promise<NatsConnection> {
  const ms = settings.NATS_CONNECT_TIMEOUT_MS ?? 0;
  if (ms <= 0) return pending;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      pending.then((late) => late.close()).catch(() => undefined);
      reject(
        new Error(
          `NATS unreachable at ${settings.NATS_URL} after ${ms} ms (NATS_CONNECT_TIMEOUT_MS); is nats-server running?`,
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const DAY_NS = 24 * 60 * 60 * 1_000_000_000;

/** The stream configurations of design.md for a set of names, each with `replicas` JetStream replicas. */
export function streamConfigs(names: Names, replicas = 1): StreamConfig[] {
  // No max_bytes: JetStream reserves a stream's max_bytes from the account's storage up front, so limits by size
  // would make every stream (and every test prefix) claim gigabytes; retention is by age instead.
  const base = {
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: replicas,
  } as const;
  return [
    {
      ...base,
      name: names.streams.cmd,
      subjects: [names.allCommands],
      // Commands are read by a worker and by task-tracker, so the stream keeps them (limits, not work-queue).
      max_age: 14 * DAY_NS,
      // The scheduler dedups slot commands by Nats-Msg-Id; its durable slot record covers longer gaps.
      duplicate_window: 10 * 60 * 1_000_000_000,
    } as StreamConfig,
    {
      ...base,
      name: names.streams.evt,
      subjects: [names.allEvents],
      max_age: 7 * DAY_NS,
      duplicate_window: 2 * 60 * 1_000_000_000,
    } as StreamConfig,
    {
      ...base,
      name: names.streams.dlq,
      subjects: [names.allDeadLetters],
      max_age: 90 * DAY_NS,
      duplicate_window: 10 * 60 * 1_000_000_000,
    } as StreamConfig,
  ];
}

/**
 * Creates the streams LUCY_CMD, LUCY_EVT and LUCY_DLQ, or updates them to the expected configuration; safe to
 * call from every service at every start. An existing stream is updated to `replicas` (JetStream scales it), only
 * when its configuration differs. Under deploy/nats/lucy-auth.conf services may not update a stream (an update
 * can wipe it, with tiny limits, or seal it for good), so a refused update keeps the stream as it is: the operator
 * applies a changed configuration with the admin user (docs/deploy.md).
 */
export async function provisionStreams(jsm: JetStreamManager, names: Names, replicas = 1): Promise<void> {
  for (const cfg of streamConfigs(names, replicas)) {
    try {
      const current = (await jsm.streams.info(cfg.name)).config as unknown as Record<string, unknown>;
      const same = Object.entries(cfg).every(([k, v]) => JSON.stringify(current[k]) === JSON.stringify(v));
      if (!same)
        await jsm.streams.update(cfg.name, cfg).catch((err: unknown) => {
          if (!/Permissions Violation/i.test(String(err))) throw err;
        });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Another replica created it between our info and add.
        if (!/already in use|exists/i.test(String(addErr))) throw addErr;
      }
    }
  }
}

/** Key-value buckets used across services. */
export interface Buckets {
  readonly leases: KV;
  readonly registry: KV;
  readonly cancellations: KV;
}

/** Creates (or opens) the KV buckets: leases, task registry and cancellations, with `replicas` replicas. */
export async function provisionBuckets(kvm: Kvm, names: Names, replicas = 1): Promise<Buckets> {
  // A bucket created earlier with other limits is opened as it is rather than failing the start.
  const createOrOpen = async (name: string, opts: Parameters<Kvm['create']>[1]) => {
    try {
      return await kvm.create(name, opts);
    } catch (err) {
      if (!/already in use|different configuration|10058/i.test(String(err))) throw err;
      return kvm.open(name);
    }
  };
  const [leases, registry, cancellations] = await Promise.all([
    createOrOpen(names.buckets.leases, { history: 1, replicas }),
    createOrOpen(names.buckets.registry, { history: 1, replicas }),
    createOrOpen(names.buckets.cancellations, { history: 1, replicas, ttl: 30 * 24 * 60 * 60 * 1000 }),
  ]);
  return { leases, registry, cancellations };
}

/** Removes the streams and buckets of a prefix (tests only). */
export async function destroyNames(handles: NatsHandles, names: Names): Promise<void> {
  for (const s of Object.values(names.streams)) {
    await handles.jsm.streams.delete(s).catch(() => false);
  }
  for (const b of Object.values(names.buckets)) {
    await handles.jsm.streams.delete(`KV_${b}`).catch(() => false);
  }
}

function isNotFound(err: unknown): boolean {
  return /not found|10059/i.test(String((err as Error)?.message ?? err));
}
