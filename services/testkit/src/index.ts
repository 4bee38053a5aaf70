// @lucy/testkit: isolated real infrastructure for integration tests — a database and a stream prefix per run.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import {
  connectNats,
  createLogger,
  createNames,
  destroyNames,
  provisionBuckets,
  provisionStreams,
  type Buckets,
  type Logger,
  type NatsHandles,
  type Names,
} from '@lucy/platform';

/** Token used by test RPC servers and clients. */
export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** NATS URL for tests: NATS_URL or the local server. */
export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/**
 * Admin connection used to create and drop per-test databases: TEST_ADMIN_DATABASE_URL, else the project's own
 * cluster that scripts/infra.sh created (it leaves the URL in .data/test-admin-database-url when the machine's
 * Postgres wants a password), else postgres without a password on 127.0.0.1:5432.
 */
export const TEST_ADMIN_DATABASE_URL =
  process.env.TEST_ADMIN_DATABASE_URL ?? privateClusterUrl() ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function privateClusterUrl(): string | undefined {
  const file = join(import.meta.dirname, '..', '..', '..', '.data', 'test-admin-database-url');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || undefined : undefined;
}

/** A unique, valid stream/subject prefix for one test run. */
export function testPrefix(label = 't'): string {
  return `${label.replace(/[^A-Za-z0-9]/g, '')}${randomBytes(5).toString('hex')}`;
}

/** A silent logger (set TEST_LOG_LEVEL=debug to see logs). */
export function testLogger(service = 'test'): Logger {
  return createLogger({ service, level: (process.env.TEST_LOG_LEVEL as never) ?? 'silent' });
}

/**
 * A platform logger (with its redaction) whose output is kept, for tests that assert what is — and is never —
 * logged (secrets, temporary passwords, message bodies).
 */
export function captureLogger(
  service = 'test',
  level: 'trace' | 'debug' | 'info' = 'debug',
): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { logger: createLogger({ service, level, destination }), text: () => chunks.join('') };
}

/** A clock whose sleeps only advance virtual time: backoff, Retry-After and rate limits cost no wall time. */
export interface VirtualClock {
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Every sleep asked for, in ms, in order. */
  readonly slept: number[];
  advance(ms: number): void;
}

/** Creates a {@link VirtualClock} starting at `start` (epoch ms; default 0). */
export function createVirtualClock(start = 0): VirtualClock {
  let t = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms) => void (t += ms),
  };
}

/** A database of its own for one test file. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates an empty database `lucy_test_<random>`; `drop()` removes it (terminating leftover connections). */
export async function createTestDatabase(label = 'lucy_test'): Promise<TestDatabase> {
  const name = `${label}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_ADMIN_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** NATS resources under a prefix of their own. */
export interface TestNats {
  readonly handles: NatsHandles;
  readonly names: Names;
  readonly buckets: Buckets;
  readonly prefix: string;
  /** Deletes the prefix's streams and buckets and closes the connection. */
  cleanup(): Promise<void>;
}

/** Connects to the real NATS and provisions the streams and buckets of a fresh prefix. */
export async function createTestNats(prefix = testPrefix()): Promise<TestNats> {
  const handles = await connectNats({ NATS_URL: TEST_NATS_URL }, testLogger('nats'), `test-${prefix}`);
  const names = createNames(prefix);
  await provisionStreams(handles.jsm, names);
  const buckets = await provisionBuckets(handles.kvm, names);
  return {
    handles,
    names,
    buckets,
    prefix,
    async cleanup() {
      await destroyNames(handles, names);
      await handles.nc.close();
    },
  };
}

/**
 * Polls until `probe` returns a truthy value (returned) or the timeout passes (throws with the last value).
 * For waiting on asynchronous projections; never a fixed sleep.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${options.what ?? 'condition'}; last value: ${String(last)}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** Environment for a service under test: everything `platformEnvShape` needs. */
export function testEnv(
  overrides: Record<string, string> & { DATABASE_URL: string; LUCY_PREFIX: string },
): Record<string, string> {
  return {
    NATS_URL: TEST_NATS_URL,
    RPC_TOKEN: TEST_TOKEN,
    RPC_PORT: '0',
    RPC_HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
}

/** A stored stream message, as read back by {@link readStream}. */
export interface StoredMessage {
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  header(name: string): string | undefined;
}

/**
 * Every message of a stream (optionally only those on one subject), read by sequence with the JetStream API.
 * Works on NATS 2.9, which lacks multi-filter consumers.
 */
export async function readStream(
  handles: NatsHandles,
  stream: string,
  subject?: string,
): Promise<StoredMessage[]> {
  const info = await handles.jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await handles.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || (subject && m.subject !== subject)) continue;
    out.push({ seq, subject: m.subject, data: m.data, header: (n) => m.header?.get(n) || undefined });
  }
  return out;
}

/** A TCP proxy that can be cut (every socket destroyed, new ones refused) and restored. */
export interface CuttableProxy {
  readonly port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a real server (Postgres, say), for outage tests: the shared server keeps
 * running for everyone else while this test's connections to it fail and recover.
 */
export async function createCuttableProxy(targetHost: string, targetPort: number): Promise<CuttableProxy> {
  const sockets = new Set<Socket>();
  let isCut = false;
  const server: Server = createServer((client) => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Where {@link freePort} records the ports it handed out, shared by every test process on the machine. */
const PORT_RESERVATIONS = join(tmpdir(), 'lucy-test-ports');
/** A reservation is taken again after this long (a run that hands a port to a child binds it within seconds). */
const PORT_RESERVATION_MS = 30 * 60_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A port for a child process to listen on. Asking the kernel for port 0 and closing it races twice: another test
 * process (two whole systems start side by side in `npm test`) may be handed the same port before the child binds
 * it, and every outgoing connection takes its local port from the same ephemeral range. So the port is drawn
 * below that range (20000–32767, never an ephemeral port on Linux's default 32768–60999), reserved for 30 minutes
 * with an exclusive file under the temporary directory that every test process checks, and tried once.
 */
export async function freePort(): Promise<number> {
  mkdirSync(PORT_RESERVATIONS, { recursive: true });
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const file = join(PORT_RESERVATIONS, String(port));
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
    } catch {
      const age = Date.now() - (statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0);
      if (age < PORT_RESERVATION_MS) continue;
      // An old reservation: taken over (the touch makes a concurrent taker see it as fresh).
      utimesSync(file, new Date(), new Date());
    }
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port found in 20000–32767 (reservations in ${PORT_RESERVATIONS})`);
}
