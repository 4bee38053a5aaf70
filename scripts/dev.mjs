// The development/demo supervisor behind `npm run up`: infrastructure, migrations, services, fakes, admin.
// Plain Node (no build step). Every child's output is prefixed with its name; Ctrl-C stops everything.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const dataDir = join(root, '.data');
mkdirSync(dataDir, { recursive: true });
const demo = !/^(0|false|no)$/i.test(process.env.LUCY_DEMO ?? '1');
const children = [];
let stopping = false;

const TSX = join(dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');
const colors = [36, 33, 35, 32, 34, 91, 96, 93];

/**
 * Services in start order, with their RPC port; a service starts only once its folder has src/main.ts. `node`:
 * node flags as the deployment sets them (compose, the Helm values), passed in NODE_OPTIONS so that tsx's child
 * process gets them too.
 */
const SERVICES = [
  { name: 'task-tracker', port: 7101 },
  { name: 'scheduler', port: 7102 },
  { name: 'ingest-sial', port: 7103, node: ['--max-old-space-size=256'] },
  { name: 'identity-teams', port: 7104 },
  { name: 'notifier', port: 7105 },
];

const GRAPH_CERT = join(dataDir, 'fake-graph', 'cert.pem');
/**
 * The demo fakes of the outside systems (LUCY_DEMO=0 skips them), each started once its folder has src/main.ts;
 * `serviceEnv` points the services at it (the Graph fake's self-signed certificate is trusted through
 * NODE_EXTRA_CA_CERTS, which Node reads at start).
 */
const FAKES = [
  {
    name: 'fake-sial',
    port: 8088,
    env: { SIAL_FAKE_PORT: '8088' },
    serviceEnv: { SIAL_BASE_URL: 'http://127.0.0.1:8088', SIAL_USER: 'usuario', SIAL_PASSWORD: 'contrasena' },
    urls: [['SIAL fake', 'http://127.0.0.1:8088 (usuario / contrasena)']],
  },
  {
    name: 'fake-graph',
    port: 8443,
    env: {
      FAKE_GRAPH_PORT: '8443',
      FAKE_GRAPH_CERT_FILE: GRAPH_CERT,
      FAKE_GRAPH_KEY_FILE: join(dataDir, 'fake-graph', 'key.pem'),
    },
    serviceEnv: {
      NODE_EXTRA_CA_CERTS: GRAPH_CERT,
      GRAPH_AUTHORITY_HOST: 'https://127.0.0.1:8443',
      GRAPH_BASE_URL: 'https://127.0.0.1:8443/v1.0',
      GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
      GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
      GRAPH_CLIENT_SECRET: 'fake-graph-secret',
    },
    urls: [['Graph fake', `https://127.0.0.1:8443 (certificate ${GRAPH_CERT})`]],
  },
  {
    name: 'fake-moodle',
    port: 8089,
    env: { FAKE_MOODLE_PORT: '8089' },
    serviceEnv: { MOODLE_URL: 'http://127.0.0.1:8089', MOODLE_TOKEN: 'fake-moodle-token' },
    urls: [['Moodle fake', 'http://127.0.0.1:8089/webservice/rest/server.php']],
  },
  {
    name: 'fake-smtp',
    port: 1025,
    env: { FAKE_SMTP_PORT: '1025', FAKE_SMTP_HTTP_PORT: '8025' },
    serviceEnv: { SMTP_HOST: '127.0.0.1', SMTP_PORT: '1025' },
    urls: [
      ['SMTP sink', 'smtp://127.0.0.1:1025'],
      ['SMTP sink API', 'http://127.0.0.1:8025/api/messages (received e-mails)'],
    ],
  },
];

function log(msg) {
  process.stdout.write(`\x1b[1m[up]\x1b[0m ${msg}\n`);
}

function portOpen(host, port, timeoutMs = 500) {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitPort(host, port, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not open ${host}:${port} within ${timeoutMs / 1000} s`);
}

function start(name, command, args, options = {}) {
  const color = colors[children.length % colors.length];
  const child = spawn(command, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `\x1b[${color}m[${name}]\x1b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    let buf = '';
    stream.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) process.stdout.write(prefix + line + '\n');
    });
  }
  child.on('exit', (code, signal) => {
    if (!stopping)
      log(`${name} exited (${signal ?? code}); the rest keeps running. Ctrl-C stops everything.`);
  });
  children.push({ name, child });
  return child;
}

function run(name, command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      env: { ...process.env, ...options.env },
      stdio: 'inherit',
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${name} failed with exit code ${code}`)),
    );
  });
}

async function ensureNats() {
  if (process.env.NATS_URL) {
    log(`NATS: using NATS_URL=${process.env.NATS_URL}`);
    return process.env.NATS_URL;
  }
  if (await portOpen('127.0.0.1', 4222)) {
    log('NATS: using the server on 127.0.0.1:4222');
    return 'nats://127.0.0.1:4222';
  }
  const bin =
    ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync) ??
    'nats-server';
  const dir = join(dataDir, 'nats');
  mkdirSync(dir, { recursive: true });
  log(`NATS: starting ${bin} with JetStream (data in .data/nats)`);
  start('nats', bin, ['-a', '127.0.0.1', '-p', '4222', '-js', '-sd', dir]);
  await waitPort('127.0.0.1', 4222, 'nats-server');
  return 'nats://127.0.0.1:4222';
}

async function ensureDatabase() {
  const pg = require('pg');
  if (process.env.DATABASE_URL) {
    log('Postgres: using DATABASE_URL');
    return process.env.DATABASE_URL;
  }
  const forceEmbedded = /^(1|true|yes)$/i.test(process.env.LUCY_EMBEDDED_DB ?? '');
  if (!forceEmbedded && (await portOpen('127.0.0.1', 5432))) {
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    try {
      await admin.connect();
      const { rowCount } = await admin.query("select 1 from pg_database where datname = 'lucy'");
      if (!rowCount) await admin.query('create database lucy');
      log('Postgres: using 127.0.0.1:5432, database lucy');
      return 'postgres://postgres@127.0.0.1:5432/lucy';
    } catch (err) {
      log(
        `Postgres on 127.0.0.1:5432 answered but refused us (${err.message}); falling back to embedded PGlite`,
      );
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  // The package exports no ./package.json; its bin is linked at the root by pnpm.
  const bin = join(root, 'node_modules', '.bin', 'pglite-server');
  mkdirSync(join(dataDir, 'pglite'), { recursive: true });
  log('Postgres: none found; starting embedded PGlite on 127.0.0.1:5433 (data in .data/pglite)');
  start('pglite', bin, [
    `--db=${join(dataDir, 'pglite')}`,
    '--port=5433',
    '--host=127.0.0.1',
    '--max-connections=40',
  ]);
  await waitPort('127.0.0.1', 5433, 'PGlite', 120_000);
  return 'postgres://postgres@127.0.0.1:5433/postgres';
}

function devToken() {
  const file = join(dataDir, 'dev-token');
  if (!existsSync(file)) writeFileSync(file, `dev-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function stopAll(code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping...');
  for (const { child } of [...children].reverse()) child.kill('SIGTERM');
  const deadline = Date.now() + 15_000;
  while (
    children.some(({ child }) => child.exitCode === null && child.signalCode === null) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const { child } of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  log('stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGHUP', () => void stopAll(0));
// Last resort if this supervisor dies some other way: never leave services running without it.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
});

try {
  const NATS_URL = await ensureNats();
  const DATABASE_URL = await ensureDatabase();
  const RPC_TOKEN = devToken();
  const common = {
    NATS_URL,
    DATABASE_URL,
    RPC_TOKEN,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    RPC_HOST: '127.0.0.1',
  };
  const present = SERVICES.filter((s) => existsSync(join(root, 'services', s.name, 'src', 'main.ts')));

  for (const s of present.filter((p) => existsSync(join(root, 'services', p.name, 'src', 'migrate.ts')))) {
    log(`migrating ${s.name}`);
    await run(`${s.name} migrate`, process.execPath, [TSX, 'src/migrate.ts'], {
      cwd: join(root, 'services', s.name),
      env: common,
    });
  }

  const urls = [];
  const fakeEnv = {};
  if (demo) {
    for (const fake of FAKES) {
      if (!existsSync(join(root, 'services', fake.name, 'src', 'main.ts'))) continue;
      start(fake.name, process.execPath, [TSX, 'src/main.ts'], {
        cwd: join(root, 'services', fake.name),
        env: fake.env,
      });
      await waitPort('127.0.0.1', fake.port, fake.name);
      Object.assign(fakeEnv, fake.serviceEnv);
      urls.push(...fake.urls);
    }
  }

  for (const s of present) {
    start(s.name, process.execPath, [TSX, 'src/main.ts'], {
      cwd: join(root, 'services', s.name),
      env: {
        ...common,
        ...fakeEnv,
        RPC_PORT: String(s.port),
        ...(s.node ? { NODE_OPTIONS: [process.env.NODE_OPTIONS, ...s.node].filter(Boolean).join(' ') } : {}),
      },
    });
  }
  for (const s of present) {
    await waitPort('127.0.0.1', s.port, s.name, 60_000);
    urls.push([s.name, `http://127.0.0.1:${s.port}  (Connect/gRPC/gRPC-Web, /healthz, /readyz, /metrics)`]);
  }

  if (existsSync(join(root, 'web', 'package.json'))) {
    start(
      'web',
      process.execPath,
      [join(root, 'node_modules', '.bin', 'vite'), 'dev', '--port', '5173', '--host', '127.0.0.1'],
      {
        cwd: join(root, 'web'),
        env: common,
      },
    );
    urls.push(['admin', 'http://127.0.0.1:5173']);
  }

  log('Lucy Tasks is up:');
  for (const [name, url] of urls) log(`  ${name.padEnd(14)} ${url}`);
  log(`  NATS           ${NATS_URL}`);
  log(`  database       ${DATABASE_URL.replace(/:[^:@/]+@/, ':***@')}`);
  log(
    `  RPC token      in .data/dev-token  (export LUCY_TOKEN=$(cat .data/dev-token); npm run -s lucy -- tareas list)`,
  );
  log('Ctrl-C stops everything.');
} catch (err) {
  log(`start-up failed: ${err.message}`);
  await stopAll(1);
}
