// The real services an outside system talks to — task-tracker, ingest-sial, identity-teams, notifier — as child
// processes on a test database and stream prefix of their own, beside the fakes of SIAL, Graph, Moodle and the SMTP
// sink, wired as scripts/dev.mjs wires them (each on a free port).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createTestDatabase,
  createTestNats,
  TEST_NATS_URL,
  TEST_TOKEN,
  freePort,
  waitFor,
  type TestDatabase,
  type TestNats,
} from '../../../testkit/src/index.js';
import { ROOT } from './contract-files.js';

/** A port no other test process is handed meanwhile (see `freePort` in the testkit). */
export { freePort };

const stopped = new Set<ChildProcess>();

function child(name: string, cwd: string, env: Record<string, string>): ChildProcess {
  const c = spawn(process.execPath, [`${ROOT}node_modules/tsx/dist/cli.mjs`, 'src/main.ts'], {
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
    if (code && !stopped.has(c)) process.stderr.write(`[${name}] exited ${code}\n${keep.join('')}`);
  });
  return c;
}

async function stop(c: ChildProcess) {
  if (c.exitCode !== null) return;
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

export interface ContractSystem {
  db: TestDatabase;
  /** The shared server's isolation (absent on a server of the test's own). */
  nats: TestNats | undefined;
  /** Subject prefix of this system (`<prefix>.lucy.cmd…`); empty on a server of the test's own. */
  subjectPrefix: string;
  urls: {
    tracker: string;
    ingest: string;
    identity: string;
    notifier: string;
    scheduler: string;
    smtpApi: string;
  };
  rpcToken: string;
  close(): Promise<void>;
}

export interface ContractSystemOptions {
  /** A NATS server of the test's own (e.g. with deploy/nats/lucy-auth.conf); default the shared one, own prefix. */
  natsUrl?: string;
  /** NATS user and password per service name, when the server wants them. */
  natsUsers?: Record<string, { user: string; password: string }>;
  /** Also run the scheduler. */
  scheduler?: boolean;
}

export async function startContractSystem(options: ContractSystemOptions = {}): Promise<ContractSystem> {
  const db = await createTestDatabase('contract_test');
  const nats = options.natsUrl ? undefined : await createTestNats();
  const prefix = nats?.prefix ?? '';
  const tlsDir = mkdtempSync(join(tmpdir(), 'lucy-contract-graph-'));
  const certFile = join(tlsDir, 'cert.pem');
  const [sial, graph, moodle, smtp, smtpApi, tracker, ingest, identity, notifier, scheduler] =
    (await Promise.all(Array.from({ length: 10 }, () => freePort()))) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
  const fakes: ChildProcess[] = [];
  const services: ChildProcess[] = [];
  const logLevel = process.env.TEST_LOG_LEVEL ?? 'warn';
  try {
    const fake = (name: string, env: Record<string, string>) =>
      fakes.push(child(name, `${ROOT}services/${name}`, { ...env, LOG_LEVEL: logLevel }));
    fake('fake-sial', { SIAL_FAKE_PORT: String(sial), SIAL_FAKE_SIZE: '12' });
    fake('fake-graph', {
      FAKE_GRAPH_PORT: String(graph),
      FAKE_GRAPH_CERT_FILE: certFile,
      FAKE_GRAPH_KEY_FILE: join(tlsDir, 'key.pem'),
    });
    fake('fake-moodle', { FAKE_MOODLE_PORT: String(moodle) });
    fake('fake-smtp', { FAKE_SMTP_PORT: String(smtp), FAKE_SMTP_HTTP_PORT: String(smtpApi) });
    await waitFor(
      async () => (await Promise.all([sial, graph, moodle, smtp, smtpApi].map(portOpen))).every(Boolean),
      { what: 'the fakes listening', timeoutMs: 120_000, intervalMs: 250 },
    );
    const wiring = {
      DATABASE_URL: db.url,
      NATS_URL: options.natsUrl ?? TEST_NATS_URL,
      LUCY_PREFIX: prefix,
      RPC_TOKEN: TEST_TOKEN,
      LOG_LEVEL: logLevel,
      METRICS_PORT: '0',
      RPC_HOST: '127.0.0.1',
      MIGRATE_ON_START: 'true',
      INGEST_RPC_URL: `http://127.0.0.1:${ingest}`,
      IDENTITY_RPC_URL: `http://127.0.0.1:${identity}`,
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
      IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
      MOODLE_URL: `http://127.0.0.1:${moodle}`,
      MOODLE_TOKEN: 'fake-moodle-token',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp),
    };
    const ports: [string, number][] = [
      ['task-tracker', tracker],
      ['ingest-sial', ingest],
      ['identity-teams', identity],
      ['notifier', notifier],
      ...(options.scheduler ? ([['scheduler', scheduler]] as [string, number][]) : []),
    ];
    for (const [name, port] of ports) {
      const auth = options.natsUsers?.[name];
      services.push(
        child(name, `${ROOT}services/${name}`, {
          ...wiring,
          RPC_PORT: String(port),
          ...(auth
            ? { NATS_USER: auth.user, NATS_PASSWORD: auth.password, NATS_INBOX_PREFIX: `_INBOX_${auth.user}` }
            : {}),
        }),
      );
    }
    await Promise.all(ports.map(([name, port]) => ready(`http://127.0.0.1:${port}/readyz`, `${name} ready`)));
  } catch (err) {
    await Promise.all(services.map(stop));
    await Promise.all(fakes.map(stop));
    rmSync(tlsDir, { recursive: true, force: true });
    await nats?.cleanup();
    await db.drop();
    throw err;
  }
  return {
    db,
    nats,
    subjectPrefix: prefix,
    urls: {
      tracker: `http://127.0.0.1:${tracker}`,
      ingest: `http://127.0.0.1:${ingest}`,
      identity: `http://127.0.0.1:${identity}`,
      notifier: `http://127.0.0.1:${notifier}`,
      scheduler: `http://127.0.0.1:${scheduler}`,
      smtpApi: `http://127.0.0.1:${smtpApi}`,
    },
    rpcToken: TEST_TOKEN,
    async close() {
      await Promise.all(services.map(stop));
      await Promise.all(fakes.map(stop));
      rmSync(tlsDir, { recursive: true, force: true });
      await nats?.cleanup();
      await db.drop();
    },
  };
}
