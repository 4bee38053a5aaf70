// The development/demo supervisor behind `npm run up`: infrastructure, migrations, services, fakes, admin.
// Plain Node (no build step). Every child's output is prefixed with its name; Ctrl-C stops everything.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
// LUCY_DATA_DIR and LUCY_PORT_OFFSET let a second stack (the embedded-start test, say) run beside a developer's
// `npm run up` without sharing its data or any port.
const dataDir = resolve(process.env.LUCY_DATA_DIR || join(root, '.data'));
const PORT_OFFSET = Number(process.env.LUCY_PORT_OFFSET || 0);
if (!Number.isInteger(PORT_OFFSET) || PORT_OFFSET < 0 || PORT_OFFSET > 56_000) {
  process.stderr.write(
    `LUCY_PORT_OFFSET: expected an integer from 0 to 56000, got "${process.env.LUCY_PORT_OFFSET}"\n`,
  );
  process.exit(78);
}
/** Where to look for a machine's Postgres (LUCY_POSTGRES_PORT lets a test stand for a machine without one). */
const PG_PORT = Number(process.env.LUCY_POSTGRES_PORT || 5432);
/** A default port moved by LUCY_PORT_OFFSET. */
const port = (p) => p + PORT_OFFSET;
mkdirSync(dataDir, { recursive: true });
const demo = !/^(0|false|no)$/i.test(process.env.LUCY_DEMO ?? '1');
const children = [];
let stopping = false;
let stoppingSince = 0;

// tsx as a loader inside the child's own Node (not tsx's CLI, which is a second process relaying signals): the
// service gets exactly the one SIGTERM this supervisor sends.
const TSX_IMPORT = [
  '--import',
  pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')).href,
];
const colors = [36, 33, 35, 32, 34, 91, 96, 93];

/**
 * Services in start order, with their RPC port; a service starts only once its folder has src/main.ts. `node`:
 * node flags as the deployment sets them (compose, the Helm values), passed in NODE_OPTIONS so that tsx's child
 * process gets them too.
 */
const SERVICES = [
  { name: 'task-tracker', port: port(7101) },
  { name: 'scheduler', port: port(7102) },
  { name: 'ingest-sial', port: port(7103), node: ['--max-old-space-size=256'] },
  { name: 'identity-teams', port: port(7104) },
  { name: 'notifier', port: port(7105) },
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
    port: port(8088),
    env: { SIAL_FAKE_PORT: String(port(8088)) },
    serviceEnv: {
      SIAL_BASE_URL: `http://127.0.0.1:${port(8088)}`,
      SIAL_USER: 'usuario',
      SIAL_PASSWORD: 'contrasena',
    },
    urls: [['SIAL fake', `http://127.0.0.1:${port(8088)}/  (endpoints and faults; usuario / contrasena)`]],
  },
  {
    name: 'fake-graph',
    port: port(8443),
    env: {
      FAKE_GRAPH_PORT: String(port(8443)),
      FAKE_GRAPH_CERT_FILE: GRAPH_CERT,
      FAKE_GRAPH_KEY_FILE: join(dataDir, 'fake-graph', 'key.pem'),
    },
    serviceEnv: {
      NODE_EXTRA_CA_CERTS: GRAPH_CERT,
      GRAPH_AUTHORITY_HOST: `https://127.0.0.1:${port(8443)}`,
      GRAPH_BASE_URL: `https://127.0.0.1:${port(8443)}/v1.0`,
      GRAPH_TENANT_ID: '7c1a4c8e-3b5d-4f0a-9e2b-6d8f1a2c3e4b',
      GRAPH_CLIENT_ID: '5f0e9b2a-6c41-4d7e-8a3b-1e2f3a4b5c6d',
      GRAPH_CLIENT_SECRET: 'fake-graph-secret',
      IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
    },
    urls: [
      ['Graph fake', `https://127.0.0.1:${port(8443)}/  (endpoints and faults; certificate ${GRAPH_CERT})`],
    ],
  },
  {
    name: 'fake-moodle',
    port: port(8089),
    env: { FAKE_MOODLE_PORT: String(port(8089)) },
    serviceEnv: { MOODLE_URL: `http://127.0.0.1:${port(8089)}`, MOODLE_TOKEN: 'fake-moodle-token' },
    urls: [['Moodle fake', `http://127.0.0.1:${port(8089)}/webservice/rest/server.php`]],
  },
  {
    name: 'fake-smtp',
    port: port(1025),
    env: { FAKE_SMTP_PORT: String(port(1025)), FAKE_SMTP_HTTP_PORT: String(port(8025)) },
    serviceEnv: { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port(1025)) },
    urls: [
      ['SMTP sink', `smtp://127.0.0.1:${port(1025)}`],
      ['SMTP sink API', `http://127.0.0.1:${port(8025)}/api/messages (received e-mails)`],
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

async function waitPort(host, port, what, timeoutMs = 30_000, child = undefined) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return;
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`${what} exited before it opened ${host}:${port}`);
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
    // A process group of its own: the terminal's Ctrl-C reaches only this supervisor, which then sends each
    // child one SIGTERM in order (a second signal would cut a service's graceful drain short).
    detached: true,
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
  children.push({ name, child, tier: options.tier ?? 'app' });
  return child;
}

function run(name, command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? root,
      env: { ...process.env, ...options.env },
      stdio: 'inherit',
      detached: true,
    });
    // Tracked like the long-running children, so a Ctrl-C during the migrations stops them too.
    children.push({ name, child, tier: 'app' });
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
  start('nats', bin, ['-a', '127.0.0.1', '-p', '4222', '-js', '-sd', dir], { tier: 'infra' });
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
  if (forceEmbedded) log('Postgres: LUCY_EMBEDDED_DB is set; using embedded PGlite');
  else if (!(await portOpen('127.0.0.1', PG_PORT))) log(`Postgres: none answers on 127.0.0.1:${PG_PORT}`);
  if (!forceEmbedded && (await portOpen('127.0.0.1', PG_PORT))) {
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${PG_PORT}/postgres` });
    try {
      await admin.connect();
      const { rowCount } = await admin.query("select 1 from pg_database where datname = 'lucy'");
      if (!rowCount) await admin.query('create database lucy');
      log(`Postgres: using 127.0.0.1:${PG_PORT}, database lucy`);
      return `postgres://postgres@127.0.0.1:${PG_PORT}/lucy`;
    } catch (err) {
      log(
        `Postgres on 127.0.0.1:${PG_PORT} answered but refused us (${err.message}); falling back to embedded PGlite`,
      );
    } finally {
      await admin.end().catch(() => undefined);
    }
  }
  const pglitePort = port(5433);
  mkdirSync(join(dataDir, 'pglite'), { recursive: true });
  log(`Postgres: starting embedded PGlite on 127.0.0.1:${pglitePort} (data in ${join(dataDir, 'pglite')})`);
  // Our own server script, not pglite-server's CLI: it loads the extensions the migrations create (pg_trgm).
  start(
    'pglite',
    process.execPath,
    [
      join(root, 'scripts', 'pglite-server.mjs'),
      `--db=${join(dataDir, 'pglite')}`,
      `--port=${pglitePort}`,
      '--host=127.0.0.1',
      '--max-connections=40',
    ],
    { tier: 'infra' },
  );
  await waitPort('127.0.0.1', pglitePort, 'PGlite', 120_000);
  return `postgres://postgres@127.0.0.1:${pglitePort}/postgres`;
}

function devToken() {
  const file = join(dataDir, 'dev-token');
  if (!existsSync(file)) writeFileSync(file, `dev-${randomBytes(16).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** A development secret kept in .data like the RPC token: identity-teams' vault keys and its admin token. */
function devSecret(name, make) {
  const file = join(dataDir, name);
  if (!existsSync(file)) writeFileSync(file, `${make()}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const running = ({ child }) => child.exitCode === null && child.signalCode === null;

/**
 * Stops the children tier by tier, each with one SIGTERM: the services (and the admin) first, so their drain
 * still has the fakes, the database and NATS; then the fakes; then PGlite and NATS. A child still running at its
 * tier's deadline (the services' own shutdown timeout is 45 s), or every child after a second Ctrl-C, is killed.
 */
async function stopAll(code = 0) {
  if (stopping) {
    // `npm run up` forwards the terminal's Ctrl-C to us after the terminal delivered it already: a repeat
    // within moments is that same Ctrl-C, not the user insisting.
    if (Date.now() - stoppingSince < 2_000) return;
    log('second signal: killing every child now');
    for (const c of children) if (running(c)) c.child.kill('SIGKILL');
    process.exit(code || 1);
  }
  stopping = true;
  stoppingSince = Date.now();
  log('stopping (Ctrl-C again kills at once)...');
  for (const [tier, timeoutMs] of [
    ['app', 50_000],
    ['fake', 10_000],
    ['infra', 15_000],
  ]) {
    const group = children.filter((c) => c.tier === tier && running(c));
    for (const { child } of group) child.kill('SIGTERM');
    const deadline = Date.now() + timeoutMs;
    while (group.some(running) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const c of group.filter(running)) {
      log(`${c.name} did not stop within ${timeoutMs / 1000} s; killing it`);
      c.child.kill('SIGKILL');
    }
  }
  log('stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGHUP', () => void stopAll(0));
// With `up | head` or a closed terminal, a write to stdout fails: stop cleanly rather than crash and orphan.
process.stdout.on('error', () => void stopAll(0));
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
    // Where the services find each other (the notifier asks ingest-sial for alumnos, identity-teams for passwords).
    INGEST_RPC_URL: `http://127.0.0.1:${port(7103)}`,
    IDENTITY_RPC_URL: `http://127.0.0.1:${port(7104)}`,
    // identity-teams' vault, ingest-sial's stored SIAL and the notifier's SMTP password: the AES-256 key
    // (kid:base64); identity-teams: the admin token of RevealPassword.
    LUCY_SECRET_KEYS: devSecret('dev-secret-keys', () => `dev1:${randomBytes(32).toString('base64')}`),
    IDENTITY_ADMIN_TOKEN: devSecret('dev-admin-token', () => `admin-${randomBytes(16).toString('hex')}`),
    // A second stack on moved ports shares the developer's NATS: its own prefix keeps streams and leases apart.
    ...(PORT_OFFSET && !process.env.LUCY_PREFIX ? { LUCY_PREFIX: `up${PORT_OFFSET}` } : {}),
  };
  const present = SERVICES.filter((s) => existsSync(join(root, 'services', s.name, 'src', 'main.ts')));

  const urls = [];
  const fakeEnv = {};
  // The fakes need neither the database nor each other, and each migration has a schema of its own: all of them
  // start at once (a start-up is mostly Node loading TypeScript, so this halves the wait).
  const fakes = demo ? FAKES.filter((f) => existsSync(join(root, 'services', f.name, 'src', 'main.ts'))) : [];
  for (const fake of fakes) {
    start(fake.name, process.execPath, [...TSX_IMPORT, 'src/main.ts'], {
      cwd: join(root, 'services', fake.name),
      env: fake.env,
      tier: 'fake',
    });
  }
  await Promise.all(
    present
      .filter((p) => existsSync(join(root, 'services', p.name, 'src', 'migrate.ts')))
      .map((s) => {
        log(`migrating ${s.name}`);
        return run(`${s.name} migrate`, process.execPath, [...TSX_IMPORT, 'src/migrate.ts'], {
          cwd: join(root, 'services', s.name),
          env: common,
        });
      }),
  );
  for (const fake of fakes) {
    await waitPort('127.0.0.1', fake.port, fake.name);
    Object.assign(fakeEnv, fake.serviceEnv);
    urls.push(...fake.urls);
  }

  for (const s of present) {
    start(s.name, process.execPath, [...TSX_IMPORT, 'src/main.ts'], {
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
    try {
      await waitPort('127.0.0.1', s.port, s.name, 60_000, children.find((c) => c.name === s.name)?.child);
    } catch (err) {
      log(`${err.message}; the rest keeps running`);
      continue;
    }
    urls.push([
      s.name,
      `http://127.0.0.1:${s.port}  (Connect/gRPC/gRPC-Web, /healthz, /readyz; /metrics on :${s.port + 2000})`,
    ]);
  }

  let demoAdmin;
  // LUCY_ADMIN=0 leaves the admin out (its production build takes a while; the embedded-start test skips it).
  if (
    !/^(0|false|no)$/i.test(process.env.LUCY_ADMIN ?? '1') &&
    existsSync(join(root, 'web', 'package.json'))
  ) {
    // The admin as deployed: the adapter-node build, talking to the services above.
    const webDir = join(root, 'web');
    const webPort = port(5173);
    const webEnv = {
      ...common,
      HOST: '127.0.0.1',
      PORT: String(webPort),
      ORIGIN: `http://127.0.0.1:${webPort}`,
      LUCY_TRACKER_URL: `http://127.0.0.1:${port(7101)}`,
      LUCY_SCHEDULER_URL: `http://127.0.0.1:${port(7102)}`,
      LUCY_INGEST_URL: `http://127.0.0.1:${port(7103)}`,
      LUCY_IDENTITY_URL: `http://127.0.0.1:${port(7104)}`,
      LUCY_NOTIFIER_URL: `http://127.0.0.1:${port(7105)}`,
    };
    log('building the admin (web/, vite build)');
    await run(
      'web build',
      process.execPath,
      [join(webDir, 'node_modules', 'vite', 'bin', 'vite.js'), 'build'],
      {
        cwd: webDir,
        env: webEnv,
      },
    );
    // A demo admin with a random password, created (and its password printed) only while there is no admin.
    const password = `demo-${randomBytes(12).toString('hex')}`;
    const out = execFileSync(
      process.execPath,
      [...TSX_IMPORT, 'src/lib/server/cli.ts', 'crear-admin', 'admin', '--si-no-hay-admin'],
      { cwd: webDir, env: { ...process.env, ...webEnv, LUCY_ADMIN_PASSWORD: password }, encoding: 'utf8' },
    );
    demoAdmin = /creado/.test(out)
      ? `admin / ${password}  (printed only this once)`
      : 'an admin exists already (lost password: npm run -s staff --prefix web -- resetear-password admin)';
    start('web', process.execPath, ['build/index.js'], { cwd: webDir, env: webEnv });
    try {
      await waitPort('127.0.0.1', webPort, 'web', 60_000, children.find((c) => c.name === 'web')?.child);
      urls.push(['admin', `http://127.0.0.1:${webPort}/admin/`]);
    } catch (err) {
      log(`${err.message}; the rest keeps running`);
    }
  }

  log('Lucy Tasks is up:');
  for (const [name, url] of urls) log(`  ${name.padEnd(14)} ${url}`);
  log(`  NATS           ${NATS_URL}`);
  log(`  database       ${DATABASE_URL.replace(/:[^:@/]+@/, ':***@')}`);
  const tokenFile = join(dataDir, 'dev-token');
  log(
    `  RPC token      in ${tokenFile}  (export LUCY_TOKEN=$(cat ${tokenFile}); npm run -s lucy -- tareas list)`,
  );
  if (PORT_OFFSET)
    log(
      `  CLI URLs       LUCY_TRACKER_URL=http://127.0.0.1:${port(7101)} LUCY_SCHEDULER_URL=http://127.0.0.1:${port(7102)} LUCY_INGEST_URL=http://127.0.0.1:${port(7103)}`,
    );
  log(`  admin token    in ${join(dataDir, 'dev-admin-token')}  (LUCY_ADMIN_TOKEN for lucy cuentas revelar)`);
  if (demoAdmin) log(`  admin login    ${demoAdmin}`);
  log('Ctrl-C stops everything.');
} catch (err) {
  // A step cut short by Ctrl-C (a migration stopped by it) is no start-up failure: the stop is under way.
  if (!stopping) {
    log(`start-up failed: ${err.message}`);
    await stopAll(1);
  }
}
