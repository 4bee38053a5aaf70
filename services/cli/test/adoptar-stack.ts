/**
 * The services `lucy adoptar pylucy` talks to, each a child process as in production (task-tracker, scheduler,
 * ingest-sial, identity-teams) on one test database and stream prefix, with the SIAL and Graph fakes on free ports,
 * plus a pylucy database built from the fixture. Used by adoptar.test.ts and bench/adopt-pylucy.bench.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import {
  createTestDatabase,
  createTestNats,
  TEST_NATS_URL,
  TEST_TOKEN,
  waitFor,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CLI = fileURLToPath(new URL('..', import.meta.url));
export const TSX = `${ROOT}node_modules/tsx/dist/cli.mjs`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
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

async function ready(url: string, what: string) {
  await waitFor(
    async () => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(1_000) })).ok;
      } catch {
        return false;
      }
    },
    { what, timeoutMs: 120_000, intervalMs: 250 },
  );
}

/** A running stack for the adoption. */
export interface AdoptionStack {
  db: TestDatabase;
  nats: TestNats;
  /** The pylucy database (same server, its own database). */
  pylucy: TestDatabase;
  /** Environment for the lucy CLI (service URLs and token). */
  cliEnv: Record<string, string>;
  graphUrl: string;
  /** Everything the services and fakes wrote to stdout/stderr. */
  output(): string;
  close(): Promise<void>;
}

/** Starts the fakes and the four services as child processes. */
export async function startAdoptionStack(): Promise<AdoptionStack> {
  const db = await createTestDatabase('adoptar_lucy');
  const pylucy = await createTestDatabase('adoptar_pylucy');
  const nats = await createTestNats();
  const tlsDir = mkdtempSync(join(tmpdir(), 'lucy-adoptar-graph-'));
  const certFile = join(tlsDir, 'cert.pem');
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  const stopping = new Set<ChildProcess>();
  const child = (name: string, env: Record<string, string>) => {
    // ADOPTAR_CPU_PROF=<dir>: a CPU profile of each service (bench/adopt-pylucy.bench.ts, to see where time goes).
    // tsx's CLI runs the service in a child process of its own: profiled, the loader runs in this one instead.
    const args = process.env.ADOPTAR_CPU_PROF
      ? [
          '--cpu-prof',
          // A directory per service and Node's default file names: the loader's thread writes a profile too, and
          // with one fixed name it overwrote the service's.
          `--cpu-prof-dir=${join(process.env.ADOPTAR_CPU_PROF, name)}`,
          '--import',
          `${ROOT}node_modules/tsx/dist/loader.mjs`,
          'src/main.ts',
        ]
      : [TSX, 'src/main.ts'];
    const c = spawn(process.execPath, args, {
      cwd: `${ROOT}services/${name}`,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (d: Buffer) => {
      logs.push(`[${name}] ${d.toString()}`);
      if (process.env.TEST_LOG_LEVEL) process.stderr.write(`[${name}] ${d.toString()}`);
    };
    c.stdout?.on('data', collect);
    c.stderr?.on('data', collect);
    c.on('exit', (code) => {
      if (code && !stopping.has(c)) process.stderr.write(`[${name}] exited ${code}\n`);
    });
    children.push(c);
  };
  const stopAll = async () => {
    await Promise.all(
      children.map(async (c) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        stopping.add(c);
        const done = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await done;
        clearTimeout(t);
      }),
    );
  };
  try {
    const [sial, graph, tracker, scheduler, ingest, identity, notifier, smtp] = (await Promise.all(
      Array.from({ length: 8 }, () => freePort()),
    )) as [number, number, number, number, number, number, number, number];
    child('fake-sial', { SIAL_FAKE_PORT: String(sial), SIAL_FAKE_SIZE: '5' });
    child('fake-graph', {
      FAKE_GRAPH_PORT: String(graph),
      FAKE_GRAPH_CERT_FILE: certFile,
      FAKE_GRAPH_KEY_FILE: join(tlsDir, 'key.pem'),
    });
    await waitFor(() => portOpen(sial), { what: 'SIAL fake', timeoutMs: 90_000 });
    await waitFor(() => portOpen(graph), { what: 'Graph fake', timeoutMs: 90_000 });
    const wiring = {
      DATABASE_URL: db.url,
      NATS_URL: TEST_NATS_URL,
      LUCY_PREFIX: nats.prefix,
      RPC_TOKEN: TEST_TOKEN,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      METRICS_PORT: '0',
      RPC_HOST: '127.0.0.1',
      MIGRATE_ON_START: 'true',
      INGEST_RPC_URL: `http://127.0.0.1:${ingest}`,
      INGEST_RPC_TOKEN: TEST_TOKEN,
      LUCY_SECRET_KEYS: `t1:${randomBytes(32).toString('base64')}`,
      IDENTITY_ADMIN_TOKEN: `admin-${randomBytes(16).toString('hex')}`,
      SIAL_BASE_URL: `http://127.0.0.1:${sial}`,
      SIAL_USER: 'usuario',
      SIAL_PASSWORD: 'contrasena',
      NODE_EXTRA_CA_CERTS: certFile,
      GRAPH_AUTHORITY_HOST: `https://127.0.0.1:${graph}`,
      GRAPH_BASE_URL: `https://127.0.0.1:${graph}/v1.0`,
      GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
      GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
      GRAPH_CLIENT_SECRET: 'fake-graph-secret',
      GRAPH_SAFE_DELETE_PREFIX: 'test-',
      IDENTITY_UPN_PREFIX: 'test-a',
      IDENTITY_UPN_DOMAIN: 'eco.unrc.edu.ar',
      IDENTITY_RPC_URL: `http://127.0.0.1:${identity}`,
      // The adoption only stores templates: nothing is sent, so no SMTP server listens there.
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp),
      SMTP_FROM: 'no-reply@eco.unrc.edu.ar',
    };
    const ports: [string, number][] = [
      ['task-tracker', tracker],
      ['scheduler', scheduler],
      ['ingest-sial', ingest],
      ['identity-teams', identity],
      ['notifier', notifier],
    ];
    // One at a time: each runs its migrations, and four at once on a loaded machine only slow each other.
    for (const [name, port] of ports) {
      child(name, { ...wiring, RPC_PORT: String(port) });
      await ready(`http://127.0.0.1:${port}/readyz`, `${name} ready`);
    }
    return {
      db,
      nats,
      pylucy,
      graphUrl: `https://127.0.0.1:${graph}`,
      cliEnv: {
        LUCY_TOKEN: TEST_TOKEN,
        LUCY_TRACKER_URL: `http://127.0.0.1:${tracker}`,
        LUCY_SCHEDULER_URL: `http://127.0.0.1:${scheduler}`,
        LUCY_INGEST_URL: `http://127.0.0.1:${ingest}`,
        LUCY_IDENTITY_URL: `http://127.0.0.1:${identity}`,
        LUCY_NOTIFIER_URL: `http://127.0.0.1:${notifier}`,
      },
      output: () => logs.join(''),
      async close() {
        await stopAll();
        rmSync(tlsDir, { recursive: true, force: true });
        await nats.cleanup();
        await db.drop();
        await pylucy.drop();
      },
    };
  } catch (err) {
    await stopAll();
    rmSync(tlsDir, { recursive: true, force: true });
    await nats.cleanup();
    await db.drop();
    await pylucy.drop();
    throw err;
  }
}

/** A client of a database of the stack. */
export async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}

/** Runs `lucy …` (TypeScript through tsx) and returns its exit code and output. */
export function runLucy(
  args: string[],
  env: Record<string, string>,
  onSpawn?: (c: ChildProcess) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [TSX, 'src/main.ts', ...args], {
      cwd: CLI,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('error', reject);
    c.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onSpawn?.(c);
  });
}
