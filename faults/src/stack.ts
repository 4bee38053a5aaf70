// The whole system on the suite's own NATS and Postgres: the fakes of the outside systems, every service compiled
// and started as production starts it (`node --conditions=lucy-dist dist/main.js`, migrations first from
// `dist/migrate.js`, as the chart's migrate Job does), each in its own process, two scheduler replicas, and TCP
// proxies the harness controls between identity-teams and Postgres, notifier and NATS, and notifier and the SMTP
// sink. A supervisor restarts a service that exited, as Kubernetes does, and records whether the exit was expected.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import pg from 'pg';
import { connectNats, createLogger, createNames, type NatsHandles, type Names } from '@lucy/platform';
import { createCuttableProxy, TEST_TOKEN, type CuttableProxy } from '@lucy/testkit';
import { serviceNodeArgs } from '../../bench/lib.js';
import {
  freePort,
  portOpen,
  sleep,
  startNats,
  startPostgres,
  snapshotRuntime,
  startProc,
  stopProc,
  until,
  type NatsServer,
  type PgCluster,
  type Proc,
} from './infra.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** The service kinds (the scheduler runs as two replicas of one kind). */
export const SERVICE_KINDS = [
  'task-tracker',
  'scheduler',
  'ingest-sial',
  'identity-teams',
  'notifier',
] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** One service process under the supervisor. */
export interface ServiceProc {
  /** Replica name: the kind, or `scheduler-a` / `scheduler-b`. */
  readonly name: string;
  readonly kind: ServiceKind;
  readonly port: number;
  readonly url: string;
  proc(): Proc | undefined;
  /** Exits the harness did not cause (a crash), with code or signal. */
  readonly unexpectedExits: string[];
  /**
   * Fail-fast start-ups: the process exited at start with its one `start-up failed` line (a dependency down, as
   * while Postgres restarts), which is the designed behaviour; the orchestrator starts it again.
   */
  readonly startFailures: string[];
  /** Times the supervisor started it. */
  starts: number;
  /** RSS in MB of the running process, from /proc (undefined when not running). */
  rssMb(): number | undefined;
  /** Sends a signal (the supervisor restarts it after it exits). */
  kill(sig: NodeJS.Signals): void;
  ready(): Promise<boolean>;
}

export interface StackOptions {
  /** Folder for data and logs (kept after a failure). */
  dir: string;
  /** Alumnos per tipo in the SIAL fake. */
  sialSize: number;
  /** Seed of the SIAL population. */
  sialSeed: number;
  /** identity-teams' mass-deletion guard (deletions per hour). */
  massDeleteMax: number;
  /** identity-teams' ack wait (default: the service's, 60 s). */
  identityAckWaitMs?: number;
  logLevel?: string;
}

export interface Stack {
  readonly dir: string;
  readonly logDir: string;
  readonly nats: NatsServer;
  readonly pg: PgCluster;
  readonly databaseUrl: string;
  readonly names: Names;
  readonly handles: NatsHandles;
  readonly db: pg.Pool;
  readonly services: ServiceProc[];
  readonly rpcToken: string;
  readonly adminToken: string;
  readonly proxies: { identityPg: CuttableProxy; notifierNats: CuttableProxy; smtp: CuttableProxy };
  readonly fakes: {
    sialUrl: string;
    graphUrl: string;
    graphCa: string;
    moodleUrl: string;
    smtpApiUrl: string;
  };
  service(name: string): ServiceProc;
  url(kind: ServiceKind): string;
  /** The scheduler replica holding the leader lease (its INSTANCE_ID), if any. */
  schedulerLeader(): Promise<string | undefined>;
  /** GET/POST a fake's control endpoint (JSON). */
  fake<T = unknown>(
    which: 'sial' | 'graph' | 'moodle' | 'smtp',
    method: string,
    path: string,
    body?: unknown,
  ): Promise<T>;
  /** Every service process alive and answering /readyz. */
  allReady(): Promise<boolean>;
  close(): Promise<void>;
}

function rssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return Math.round((kb / 1024) * 10) / 10;
  } catch {
    return undefined;
  }
}

/**
 * Why a process failed to start, from what it wrote to its log since `offset` (where its start found the file):
 * its fail-fast `start-up failed` line (a dependency down, the designed behaviour), or a module missing because
 * another test rebuilt `dist/` under it (`scripts/build.mjs` replaces it; test infrastructure, not the service).
 * Undefined for anything else, which is a crash.
 */
function startFailure(logFile: string, offset: number): string | undefined {
  let text: string;
  try {
    text = readFileSync(logFile).subarray(offset).toString('utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line.includes('"start-up failed')) {
      try {
        return String((JSON.parse(line) as { msg?: string }).msg).slice(0, 200);
      } catch {
        return line.slice(0, 200);
      }
    }
  }
  if (/ERR_MODULE_NOT_FOUND/.test(text) && !/"level":"(info|warn)"/.test(text))
    return 'a module of dist/ missing at start (rebuilt meanwhile by another test)';
  return undefined;
}

const fileSize = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

async function httpsJson<T>(url: string, ca: string, method: string, body?: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 400)
            reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
          else resolve((text ? JSON.parse(text) : {}) as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const logDir = join(options.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const logLevel = options.logLevel ?? process.env.FAULTS_LOG_LEVEL ?? 'warn';
  const cleanups: (() => Promise<void>)[] = [];
  const services: ServiceProc[] = [];
  let closing = false;
  const fakeProcs: Proc[] = [];
  try {
    // Compiled once (scripts/build.mjs), as production's image is.
    const mainArgs = serviceNodeArgs('main');
    const migrateArgs = serviceNodeArgs('migrate');
    const APP = snapshotRuntime(ROOT, join(options.dir, 'app'));
    const [nats, pgc] = await Promise.all([
      startNats(options.dir, logDir),
      startPostgres(options.dir, logDir),
    ]);
    cleanups.push(
      () => nats.stop(),
      () => pgc.stop(),
    );
    const admin = new pg.Client({ connectionString: pgc.adminUrl });
    await admin.connect();
    await admin.query('create database lucy');
    await admin.end();
    const databaseUrl = pgc.url('lucy');

    // The fakes, compiled like the services.
    const [sial, graph, moodle, smtp, smtpApi] = (await Promise.all(
      Array.from({ length: 5 }, () => freePort()),
    )) as [number, number, number, number, number];
    const certFile = join(options.dir, 'graph-cert.pem');
    const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: logLevel, TZ: 'UTC' };
    const fake = (name: string, env: Record<string, string>) => {
      const p = startProc(name, process.execPath, mainArgs, {
        cwd: join(APP, 'services', name),
        env: { ...baseEnv, ...env },
        logFile: join(logDir, `${name}.log`),
      });
      fakeProcs.push(p);
    };
    fake('fake-sial', {
      SIAL_FAKE_PORT: String(sial),
      SIAL_FAKE_SIZE: String(options.sialSize),
      SIAL_FAKE_SEED: String(options.sialSeed),
    });
    fake('fake-graph', {
      FAKE_GRAPH_PORT: String(graph),
      FAKE_GRAPH_CERT_FILE: certFile,
      FAKE_GRAPH_KEY_FILE: join(options.dir, 'graph-key.pem'),
      FAKE_GRAPH_SEATS: '1000000',
    });
    fake('fake-moodle', { FAKE_MOODLE_PORT: String(moodle) });
    fake('fake-smtp', {
      FAKE_SMTP_PORT: String(smtp),
      FAKE_SMTP_HTTP_PORT: String(smtpApi),
      FAKE_SMTP_MAX_MESSAGES: '10000000',
    });
    cleanups.push(async () => void (await Promise.all(fakeProcs.map((p) => stopProc(p, 5_000)))));
    // Waited for after the migrations, which run meanwhile.
    const fakesUp = (async () => {
      for (const [what, port] of [
        ['SIAL fake', sial],
        ['Graph fake', graph],
        ['Moodle fake', moodle],
        ['SMTP sink', smtp],
        ['SMTP sink API', smtpApi],
      ] as const)
        await until(
          what,
          async () => {
            const dead = fakeProcs.find((p) => !p.alive());
            if (dead) throw new Error(`${dead.name} exited (see ${logDir}/${dead.name}.log)`);
            return portOpen(port);
          },
          120_000,
        );
    })();
    fakesUp.catch(() => undefined);

    // Proxies the harness can cut.
    const identityPg = await createCuttableProxy('127.0.0.1', pgc.port);
    const notifierNats = await createCuttableProxy('127.0.0.1', nats.port);
    const smtpProxy = await createCuttableProxy('127.0.0.1', smtp);
    cleanups.push(async () => {
      await Promise.all([identityPg.close(), notifierNats.close(), smtpProxy.close()]);
    });

    const rpcToken = TEST_TOKEN;
    const adminToken = `admin-${randomBytes(16).toString('hex')}`;
    const ports = Object.fromEntries(
      await Promise.all(
        ['task-tracker', 'scheduler-a', 'scheduler-b', 'ingest-sial', 'identity-teams', 'notifier'].map(
          async (n) => [n, await freePort()] as const,
        ),
      ),
    ) as Record<string, number>;
    const wiring: Record<string, string | undefined> = {
      ...baseEnv,
      NATS_URL: nats.url,
      DATABASE_URL: databaseUrl,
      RPC_TOKEN: rpcToken,
      RPC_HOST: '127.0.0.1',
      METRICS_PORT: '0',
      MIGRATE_ON_START: 'false',
      INGEST_RPC_URL: `http://127.0.0.1:${ports['ingest-sial']}`,
      IDENTITY_RPC_URL: `http://127.0.0.1:${ports['identity-teams']}`,
      LUCY_SECRET_KEYS: `f1:${randomBytes(32).toString('base64')}`,
      IDENTITY_ADMIN_TOKEN: adminToken,
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
      IDENTITY_UPN_PREFIX: 'test-',
      IDENTITY_UPN_DOMAIN: 'alumnos.example.edu.ar',
      IDENTITY_MASS_DELETE_MAX: String(options.massDeleteMax),
      ...(options.identityAckWaitMs ? { IDENTITY_ACK_WAIT_MS: String(options.identityAckWaitMs) } : {}),
      MOODLE_URL: `http://127.0.0.1:${moodle}`,
      MOODLE_TOKEN: 'fake-moodle-token',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpProxy.port),
      // A SIAL that does not answer costs 10 s per try, not the default's.
      SIAL_TIMEOUT_MS: '10000',
    };
    const specific: Record<string, Record<string, string>> = {
      'identity-teams': { DATABASE_URL: pgc.url('lucy').replace(`:${pgc.port}/`, `:${identityPg.port}/`) },
      notifier: { NATS_URL: `nats://127.0.0.1:${notifierNats.port}` },
      'scheduler-a': { INSTANCE_ID: 'scheduler-a' },
      'scheduler-b': { INSTANCE_ID: 'scheduler-b' },
      // ingest-sial runs with the heap limit the deployment gives it.
    };
    const nodeFlags: Record<string, string[]> = { 'ingest-sial': ['--max-old-space-size=256'] };

    // Migrations first, one process per service, as the chart's Job runs them; each service migrates its own
    // schema, so the five run at once (and beside the fakes' start).
    await Promise.all(
      SERVICE_KINDS.map(async (kind) => {
        const p = startProc(`${kind}-migrate`, process.execPath, migrateArgs, {
          cwd: join(APP, 'services', kind),
          env: { ...wiring, DATABASE_URL: databaseUrl },
          logFile: join(logDir, `${kind}-migrate.log`),
        });
        const t = setTimeout(() => p.signal('SIGKILL'), 180_000);
        const { code } = await p.exited;
        clearTimeout(t);
        if (code !== 0) throw new Error(`${kind} migrate exited ${code} (see ${logDir}/${kind}-migrate.log)`);
      }),
    );
    await fakesUp;
    const graphCa = readFileSync(certFile, 'utf8');

    for (const name of Object.keys(ports)) {
      const kind = (name.startsWith('scheduler') ? 'scheduler' : name) as ServiceKind;
      const port = ports[name]!;
      let current: Proc | undefined;
      let expected = false;
      const svc: ServiceProc = {
        name,
        kind,
        port,
        url: `http://127.0.0.1:${port}`,
        proc: () => current,
        unexpectedExits: [],
        startFailures: [],
        starts: 0,
        rssMb: () => (current?.alive() ? rssMb(current.child.pid) : undefined),
        kill(sig) {
          expected = true;
          current?.signal(sig);
        },
        async ready() {
          if (!current?.alive()) return false;
          try {
            return (await fetch(`${svc.url}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok;
          } catch {
            return false;
          }
        },
      };
      const launch = () => {
        expected = false;
        svc.starts++;
        const logOffset = fileSize(join(logDir, `${name}.log`));
        current = startProc(name, process.execPath, [...(nodeFlags[name] ?? []), ...mainArgs], {
          cwd: join(APP, 'services', kind),
          env: { ...wiring, RPC_PORT: String(port), ...specific[name] },
          logFile: join(logDir, `${name}.log`),
        });
        const mine = current;
        void mine.exited.then(async ({ code, signal }) => {
          if (closing) return;
          if (!expected) {
            const line = `${new Date().toISOString()} ${signal ?? `exit ${code}`}`;
            const failedStart = startFailure(join(logDir, `${name}.log`), logOffset);
            if (failedStart) svc.startFailures.push(`${line}: ${failedStart}`);
            else svc.unexpectedExits.push(line);
          }
          // The orchestrator's restart, after a short back-off.
          await sleep(1_000);
          if (!closing && current === mine) launch();
        });
      };
      launch();
      services.push(svc);
    }
    cleanups.push(async () => {
      closing = true;
      await Promise.all(services.map((s) => stopProc(s.proc(), 45_000)));
    });
    await until(
      'every service ready',
      async () => {
        for (const s of services)
          if (s.unexpectedExits.length > 0)
            throw new Error(`${s.name} exited at start (see ${logDir}/${s.name}.log)`);
        return (await Promise.all(services.map((s) => s.ready()))).every(Boolean);
      },
      240_000,
      500,
    );

    const handles = await connectNats(
      { NATS_URL: nats.url },
      createLogger({ service: 'faults', level: 'silent' }),
      'fault-suite',
    );
    cleanups.push(() => handles.nc.close());
    const names = createNames('');
    const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    db.on('error', () => undefined);
    cleanups.push(() => db.end());

    const fakeUrl = {
      sial: `http://127.0.0.1:${sial}`,
      graph: `https://127.0.0.1:${graph}`,
      moodle: `http://127.0.0.1:${moodle}`,
      smtp: `http://127.0.0.1:${smtpApi}`,
    };
    const stack: Stack = {
      dir: options.dir,
      logDir,
      nats,
      pg: pgc,
      databaseUrl,
      names,
      handles,
      db,
      services,
      rpcToken,
      adminToken,
      proxies: { identityPg, notifierNats, smtp: smtpProxy },
      fakes: {
        sialUrl: fakeUrl.sial,
        graphUrl: fakeUrl.graph,
        graphCa,
        moodleUrl: fakeUrl.moodle,
        smtpApiUrl: fakeUrl.smtp,
      },
      service(name) {
        const s = services.find((x) => x.name === name);
        if (!s) throw new Error(`no service ${name}`);
        return s;
      },
      url(kind) {
        return services.find((x) => x.kind === kind)!.url;
      },
      async schedulerLeader() {
        const kv = await handles.kvm.open(names.buckets.leases);
        const e = await kv.get('scheduler.leader');
        if (!e || e.operation !== 'PUT') return undefined;
        const v = JSON.parse(new TextDecoder().decode(e.value)) as { holder: string; expiresAt: number };
        return v.expiresAt > Date.now() ? v.holder : undefined;
      },
      async fake<T>(
        which: 'sial' | 'graph' | 'moodle' | 'smtp',
        method: string,
        path: string,
        body?: unknown,
      ) {
        const url = `${fakeUrl[which]}${path}`;
        if (which === 'graph') return httpsJson<T>(url, graphCa, method, body);
        const res = await fetch(url, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
        return (text ? JSON.parse(text) : {}) as T;
      },
      async allReady() {
        return (await Promise.all(services.map((s) => s.ready()))).every(Boolean);
      },
      async close() {
        closing = true;
        for (const c of cleanups.reverse()) await c().catch(() => undefined);
      },
    };
    return stack;
  } catch (err) {
    closing = true;
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    throw err;
  }
}
