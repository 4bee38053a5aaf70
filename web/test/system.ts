// The real system for the browser tests: task-tracker as a child process on its own database and stream prefix,
// and the built admin (adapter-node output) on a free port, both on the same test database like in production.
// With `{ full: true }` every service (ingest-sial, scheduler, identity-teams, notifier, task-tracker) runs as a
// child process beside the fakes of the outside systems (SIAL, Graph, Moodle, the SMTP sink), wired as
// `scripts/dev.mjs` wires them, each fake on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createTestDatabase,
  createTestNats,
  freePort,
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

/** A port no other test process is handed meanwhile (see `freePort` in @lucy/testkit). */
export { freePort };

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
  // A process that dies under a test (an error exit or a signal) says so with its last output.
  c.on('exit', (code, signal) => {
    if ((code || signal) && !stopped.has(c))
      process.stderr.write(`[${name}] exited ${code ?? signal}\n${keep.join('')}`);
  });
  return c;
}
const stopped = new Set<ChildProcess>();

async function stop(c: ChildProcess | undefined) {
  // Already gone (an exit code, or killed by a signal): nothing to wait for.
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  stopped.add(c);
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function listening(port: number, what: string) {
  await waitFor(() => portOpen(port), { what, timeoutMs: 90_000, intervalMs: 250 });
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

/** Where the services and fakes of a full system listen, and the secrets they share. */
export interface FullSystem {
  schedulerUrl: string;
  ingestUrl: string;
  identityUrl: string;
  notifierUrl: string;
  /** SIAL fake (HTTP Basic `sialUser` / `sialPassword`, the deployment's SIAL_USER / SIAL_PASSWORD too). */
  sialUrl: string;
  sialUser: string;
  /** Random per system, so a test can tell whether it ever reaches a page. */
  sialPassword: string;
  /** The Graph app's client secret the fake accepts (the deployment's GRAPH_CLIENT_SECRET; random per system). */
  graphClientSecret: string;
  /** The web-service token the Moodle fake accepts (the deployment's MOODLE_TOKEN; random per system). */
  moodleToken: string;
  /** Graph fake root (self-signed TLS; control endpoints under /__fake/, e.g. GET /__fake/users). */
  graphUrl: string;
  /** Graph fake's certificate (trust it with NODE_EXTRA_CA_CERTS or `rejectUnauthorized: false`). */
  graphCertFile: string;
  moodleUrl: string;
  /** SMTP sink's HTTP API: GET /api/messages lists what was received. */
  smtpApiUrl: string;
  /** identity-teams' admin token (lucy-admin-token header: RevealPassword, held deletions). */
  adminToken: string;
  /** UPN prefix identity-teams creates and may delete (its GRAPH_SAFE_DELETE_PREFIX; the admin asks it). */
  safeDeletePrefix: string;
}

export interface SystemOptions {
  /** Start every service and the fakes, not only task-tracker. */
  full?: boolean;
  /** Alumnos per tipo in the SIAL fake (full only; default 30). */
  sialSize?: number;
  /** Extra environment per service name (full only), e.g. { 'identity-teams': { IDENTITY_BATCH_LIMIT: '60' } }. */
  serviceEnv?: Record<string, Record<string, string>>;
}

export interface System {
  db: TestDatabase;
  nats: TestNats;
  trackerUrl: string;
  webUrl: string;
  /** The RPC token every service accepts. */
  rpcToken: string;
  /** Set when started with `{ full: true }`. */
  full?: FullSystem;
  addStaff(username: string, role: Role, password: string): Promise<void>;
  /** Stops task-tracker (SIGTERM, as a rolling restart does). */
  stopTracker(): Promise<void>;
  /** Starts task-tracker again on the same port and waits until it is ready. */
  startTracker(): Promise<void>;
  /** Stops one service of a full system (SIGTERM), e.g. to see the admin when identity-teams is down. */
  stopService(name: 'scheduler' | 'ingest-sial' | 'identity-teams' | 'notifier'): Promise<void>;
  /** Starts it again on the same port with the same environment and waits until it is ready. */
  startService(name: 'scheduler' | 'ingest-sial' | 'identity-teams' | 'notifier'): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts task-tracker and the admin; services not started (scheduler, ingest-sial…) show as down. With
 * `{ full: true }`, every service and the fakes of the outside systems.
 */
export async function startSystem(options: SystemOptions = {}): Promise<System> {
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
    // Free ports only: no /metrics port beside each RPC port.
    METRICS_PORT: '0',
  };
  const tsx = `${ROOT}node_modules/tsx/dist/cli.mjs`;
  const spawnTracker = () =>
    child('task-tracker', [tsx, 'src/main.ts'], `${ROOT}services/task-tracker`, {
      ...common,
      RPC_PORT: String(trackerPort),
      RPC_HOST: '127.0.0.1',
      MIGRATE_ON_START: 'true',
    });
  let tracker = spawnTracker();
  const down = `http://127.0.0.1:${closedPort}`;
  let web: ChildProcess | undefined;
  const fakes: ChildProcess[] = [];
  const services = new Map<string, { process: ChildProcess; start: () => ChildProcess; readyUrl: string }>();
  const stopServices = () => Promise.all([...services.values()].map((s) => stop(s.process)));
  let full: FullSystem | undefined;
  let tlsDir: string | undefined;
  const serviceUrls = {
    LUCY_SCHEDULER_URL: down,
    LUCY_INGEST_URL: down,
    LUCY_IDENTITY_URL: down,
    LUCY_NOTIFIER_URL: down,
  };
  let adminToken: string | undefined;
  let buildDir: string | undefined;
  try {
    if (options.full) {
      tlsDir = mkdtempSync(join(tmpdir(), 'lucy-web-graph-'));
      const certFile = join(tlsDir, 'cert.pem');
      const [sial, graph, moodle, smtp, smtpApi, scheduler, ingest, identity, notifier] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const fake = (name: string, env: Record<string, string>) =>
        fakes.push(
          child(name, [tsx, 'src/main.ts'], `${ROOT}services/${name}`, {
            ...env,
            LOG_LEVEL: common.LOG_LEVEL,
          }),
        );
      const sialUser = 'usuario';
      const sialPassword = `sial-${randomBytes(12).toString('hex')}`;
      const graphClientSecret = `graph-${randomBytes(12).toString('hex')}`;
      const moodleToken = `moodle-${randomBytes(12).toString('hex')}`;
      fake('fake-sial', {
        SIAL_FAKE_PORT: String(sial),
        SIAL_FAKE_SIZE: String(options.sialSize ?? 30),
        SIAL_FAKE_USER: sialUser,
        SIAL_FAKE_PASSWORD: sialPassword,
      });
      fake('fake-graph', {
        FAKE_GRAPH_PORT: String(graph),
        FAKE_GRAPH_CLIENT_SECRET: graphClientSecret,
        FAKE_GRAPH_CERT_FILE: certFile,
        FAKE_GRAPH_KEY_FILE: join(tlsDir, 'key.pem'),
      });
      fake('fake-moodle', { FAKE_MOODLE_PORT: String(moodle), FAKE_MOODLE_TOKEN: moodleToken });
      fake('fake-smtp', { FAKE_SMTP_PORT: String(smtp), FAKE_SMTP_HTTP_PORT: String(smtpApi) });
      await Promise.all([
        listening(sial, 'SIAL fake'),
        listening(graph, 'Graph fake'),
        listening(moodle, 'Moodle fake'),
        listening(smtpApi, 'SMTP sink API'),
        listening(smtp, 'SMTP sink'),
      ]);
      adminToken = `admin-${randomBytes(16).toString('hex')}`;
      const safeDeletePrefix = 'test-';
      const wiring = {
        ...common,
        RPC_HOST: '127.0.0.1',
        MIGRATE_ON_START: 'true',
        INGEST_RPC_URL: `http://127.0.0.1:${ingest}`,
        IDENTITY_RPC_URL: `http://127.0.0.1:${identity}`,
        LUCY_SECRET_KEYS: `t1:${randomBytes(32).toString('base64')}`,
        IDENTITY_ADMIN_TOKEN: adminToken,
        SIAL_BASE_URL: `http://127.0.0.1:${sial}`,
        SIAL_USER: sialUser,
        SIAL_PASSWORD: sialPassword,
        NODE_EXTRA_CA_CERTS: certFile,
        GRAPH_AUTHORITY_HOST: `https://127.0.0.1:${graph}`,
        GRAPH_BASE_URL: `https://127.0.0.1:${graph}/v1.0`,
        GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
        GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
        GRAPH_CLIENT_SECRET: graphClientSecret,
        GRAPH_SAFE_DELETE_PREFIX: safeDeletePrefix,
        IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
        MOODLE_URL: `http://127.0.0.1:${moodle}`,
        MOODLE_TOKEN: moodleToken,
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp),
      };
      const ports: [string, number][] = [
        ['scheduler', scheduler],
        ['ingest-sial', ingest],
        ['identity-teams', identity],
        ['notifier', notifier],
      ];
      for (const [name, port] of ports) {
        const start = () =>
          child(name, [tsx, 'src/main.ts'], `${ROOT}services/${name}`, {
            ...wiring,
            RPC_PORT: String(port),
            ...options.serviceEnv?.[name],
          });
        services.set(name, { process: start(), start, readyUrl: `http://127.0.0.1:${port}/readyz` });
      }
      await Promise.all(
        ports.map(([name, port]) => ready(`http://127.0.0.1:${port}/readyz`, `${name} ready`)),
      );
      full = {
        schedulerUrl: `http://127.0.0.1:${scheduler}`,
        ingestUrl: `http://127.0.0.1:${ingest}`,
        identityUrl: `http://127.0.0.1:${identity}`,
        notifierUrl: `http://127.0.0.1:${notifier}`,
        sialUrl: `http://127.0.0.1:${sial}`,
        sialUser,
        sialPassword,
        graphClientSecret,
        moodleToken,
        graphUrl: `https://127.0.0.1:${graph}`,
        graphCertFile: certFile,
        moodleUrl: `http://127.0.0.1:${moodle}`,
        smtpApiUrl: `http://127.0.0.1:${smtpApi}`,
        adminToken,
        safeDeletePrefix,
      };
      Object.assign(serviceUrls, {
        LUCY_SCHEDULER_URL: full.schedulerUrl,
        LUCY_INGEST_URL: full.ingestUrl,
        LUCY_IDENTITY_URL: full.identityUrl,
        LUCY_NOTIFIER_URL: full.notifierUrl,
      });
    }
    await ready(`${trackerUrl}/readyz`, 'task-tracker ready');
    // A copy of the build of its own (beside web/node_modules, so its imports resolve): another run's rebuild of
    // build/ (new asset names) cannot pull the pages' scripts away from under this one.
    mkdirSync(`${WEB}test-results`, { recursive: true });
    buildDir = mkdtempSync(`${WEB}test-results/build-`);
    cpSync(`${WEB}build`, buildDir, { recursive: true });
    web = child('web', [`${buildDir}/index.js`], WEB, {
      ...common,
      HOST: '127.0.0.1',
      PORT: String(webPort),
      ORIGIN: webUrl,
      LUCY_TRACKER_URL: trackerUrl,
      ...serviceUrls,
      ...(adminToken ? { IDENTITY_ADMIN_TOKEN: adminToken } : {}),
      MIGRATE_ON_START: 'true',
      LUCY_ADMIN_BOOTSTRAP_USER: 'admin',
      LUCY_ADMIN_BOOTSTRAP_PASSWORD: 'clave-de-prueba-1234',
    });
    await ready(`${webUrl}/readyz`, 'admin ready');
  } catch (err) {
    await stop(web);
    await stop(tracker);
    await stopServices();
    await Promise.all(fakes.map(stop));
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    await nats.cleanup();
    await db.drop();
    throw err;
  }
  const orm = await createWebOrm(db.url, 2);
  const auth = createAuth({ orm, idleMinutes: 30, absoluteHours: 12 });
  return {
    db,
    nats,
    trackerUrl,
    webUrl,
    rpcToken: TEST_TOKEN,
    ...(full ? { full } : {}),
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
    async stopService(name) {
      const s = services.get(name);
      if (!s) throw new Error(`${name} is not running in this system (start it with { full: true })`);
      await stop(s.process);
    },
    async startService(name) {
      const s = services.get(name);
      if (!s) throw new Error(`${name} is not running in this system (start it with { full: true })`);
      if (s.process.exitCode === null && s.process.signalCode === null) return;
      s.process = s.start();
      await ready(s.readyUrl, `${name} ready again`);
    },
    async close() {
      await orm.close(true);
      await stop(web);
      // The services drain before the fakes they talk to stop.
      await stopServices();
      await stop(tracker);
      await Promise.all(fakes.map(stop));
      if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
      await nats.cleanup();
      await db.drop();
    },
  };
}
