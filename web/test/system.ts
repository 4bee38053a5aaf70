// The real system for the browser tests: task-tracker as a child process on its own database and stream prefix,
// and the built admin (adapter-node output) on a free port, both on the same test database like in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  createTestNats,
  TEST_NATS_URL,
  TEST_TOKEN,
  waitFor,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { createAuth } from '../src/lib/server/auth.js';
import { createWebOrm } from '../src/lib/server/db/orm.js';
import type { Role } from '../src/lib/server/roles.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB = fileURLToPath(new URL('..', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function child(name: string, args: string[], cwd: string, env: Record<string, string>): ChildProcess {
  const c = spawn(process.execPath, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep: string[] = [];
  const collect = (d: Buffer) => {
    keep.push(d.toString());
    if (keep.length > 200) keep.shift();
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(`[${name}] ${d.toString()}`);
  };
  c.stdout?.on('data', collect);
  c.stderr?.on('data', collect);
  c.on('exit', (code) => {
    if (code && code !== 0 && !stopped.has(c))
      process.stderr.write(`[${name}] exited ${code}\n${keep.join('')}`);
  });
  return c;
}
const stopped = new Set<ChildProcess>();

async function stop(c: ChildProcess | undefined) {
  if (!c || c.exitCode !== null) return;
  stopped.add(c);
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

async function ready(url: string, what: string) {
  await waitFor(
    async () => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
      } catch {
        return false;
      }
    },
    { what, timeoutMs: 90_000, intervalMs: 250 },
  );
}

export interface System {
  db: TestDatabase;
  nats: TestNats;
  trackerUrl: string;
  webUrl: string;
  addStaff(username: string, role: Role, password: string): Promise<void>;
  /** Stops task-tracker (SIGTERM, as a rolling restart does). */
  stopTracker(): Promise<void>;
  /** Starts task-tracker again on the same port and waits until it is ready. */
  startTracker(): Promise<void>;
  close(): Promise<void>;
}

/** Starts task-tracker and the admin; services not started (scheduler, ingest-sial…) show as down. */
export async function startSystem(): Promise<System> {
  const db = await createTestDatabase('web_test');
  const nats = await createTestNats();
  const [trackerPort, webPort, closedPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const trackerUrl = `http://127.0.0.1:${trackerPort}`;
  const webUrl = `http://127.0.0.1:${webPort}`;
  const common = {
    DATABASE_URL: db.url,
    NATS_URL: TEST_NATS_URL,
    LUCY_PREFIX: nats.prefix,
    RPC_TOKEN: TEST_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
  };
  const spawnTracker = () =>
    child(
      'task-tracker',
      [`${ROOT}node_modules/tsx/dist/cli.mjs`, 'src/main.ts'],
      `${ROOT}services/task-tracker`,
      {
        ...common,
        RPC_PORT: String(trackerPort),
        RPC_HOST: '127.0.0.1',
        MIGRATE_ON_START: 'true',
      },
    );
  let tracker = spawnTracker();
  const down = `http://127.0.0.1:${closedPort}`;
  let web: ChildProcess | undefined;
  try {
    await ready(`${trackerUrl}/readyz`, 'task-tracker ready');
    web = child('web', ['build/index.js'], WEB, {
      ...common,
      HOST: '127.0.0.1',
      PORT: String(webPort),
      ORIGIN: webUrl,
      LUCY_TRACKER_URL: trackerUrl,
      LUCY_SCHEDULER_URL: down,
      LUCY_INGEST_URL: down,
      LUCY_IDENTITY_URL: down,
      LUCY_NOTIFIER_URL: down,
      MIGRATE_ON_START: 'true',
      LUCY_ADMIN_BOOTSTRAP_USER: 'admin',
      LUCY_ADMIN_BOOTSTRAP_PASSWORD: 'clave-de-prueba-1234',
    });
    await ready(`${webUrl}/readyz`, 'admin ready');
  } catch (err) {
    await stop(web);
    await stop(tracker);
    throw err;
  }
  const orm = await createWebOrm(db.url, 2);
  const auth = createAuth({ orm, idleMinutes: 30, absoluteHours: 12 });
  return {
    db,
    nats,
    trackerUrl,
    webUrl,
    async addStaff(username, role, password) {
      await auth.createStaff({ username, role, password, nombre: username });
    },
    async stopTracker() {
      await stop(tracker);
    },
    async startTracker() {
      tracker = spawnTracker();
      await ready(`${trackerUrl}/readyz`, 'task-tracker ready again');
    },
    async close() {
      await orm.close(true);
      await stop(web);
      await stop(tracker);
      await nats.cleanup();
      await db.drop();
    },
  };
}
