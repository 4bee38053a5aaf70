// The fault suite's own infrastructure: a nats-server with JetStream and a private PostgreSQL cluster, each on a free
// port with its own data folder, so the suite can restart them without disturbing the machine's shared servers;
// child processes in process groups of their own (a kill reaches the whole group); free ports; bounded waits.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { freePort as testkitFreePort } from '@lucy/testkit';

export const NATS_SERVER = [
  '/usr/sbin/nats-server',
  '/usr/bin/nats-server',
  '/usr/local/bin/nats-server',
].find(existsSync);
export const PG_BIN = [
  '/usr/lib/postgresql/15/bin',
  '/usr/lib/postgresql/16/bin',
  '/usr/lib/postgresql/17/bin',
].find((d) => existsSync(join(d, 'initdb')));

/**
 * A private copy of the compiled runtime (`proto` and `services/*`: package.json and dist/, node_modules as links,
 * the workspace's own packages pointing at the copies): the services the suite restarts during a run load the build
 * the run started with, even when another test rebuilds the checkout's dist/ meanwhile (`scripts/build.mjs`
 * replaces it; a restart would otherwise load code whose migrations were never applied). Returns the copy's root.
 */
export function snapshotRuntime(root: string, into: string): string {
  const pkgs = ['proto', ...readdirSync(join(root, 'services')).map((d) => `services/${d}`)].filter((p) =>
    existsSync(join(root, p, 'dist')),
  );
  const copyOf = new Map(pkgs.map((p) => [realpathSync(join(root, p)), join(into, p)]));
  for (const p of pkgs) {
    const from = join(root, p);
    const to = join(into, p);
    mkdirSync(to, { recursive: true });
    cpSync(join(from, 'package.json'), join(to, 'package.json'));
    cpSync(join(from, 'dist'), join(to, 'dist'), { recursive: true });
    const modules = join(from, 'node_modules');
    if (!existsSync(modules)) continue;
    const link = (entry: string) => {
      const target = realpathSync(join(modules, entry));
      mkdirSync(dirname(join(to, 'node_modules', entry)), { recursive: true });
      symlinkSync(copyOf.get(target) ?? target, join(to, 'node_modules', entry));
    };
    for (const entry of readdirSync(modules)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@'))
        for (const inner of readdirSync(join(modules, entry))) link(`${entry}/${inner}`);
      else link(entry);
    }
  }
  return into;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A port for a child process: testkit's, reserved across test processes and below the ephemeral range. */
export const freePort = testkitFreePort;

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export async function portOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Polls `probe` until it returns a truthy value, at most `timeoutMs`; throws naming `what` (and the last error) when
 * the time is up. Every wait of the suite goes through here: conditions, never sleeps.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err instanceof Error ? err.message : err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what} (last: ${String(last)})`,
      );
    await sleep(intervalMs);
  }
}

/** A child process of the suite, in a process group of its own, its output appended to a log file. */
export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Sends a signal to the whole process group. */
  signal(sig: NodeJS.Signals): void;
}

/** Every process group the suite started and has not seen exit, killed on `process.exit` whatever happens. */
const groups = new Set<number>();
process.on('exit', () => {
  for (const pid of groups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
});

// A signal ends the suite through process.exit, so the hook above kills every group it started.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    if (groups.size > 0) process.stderr.write(`[faults] ${sig}: stopping every process the suite started\n`);
    process.exit(130);
  });
}

export function startProc(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; logFile: string },
): Proc {
  const fd = openSync(options.logFile, 'a');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid) groups.add(pid);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      if (pid) groups.delete(pid);
      resolve({ code, signal });
    });
    child.once('error', () => {
      if (pid) groups.delete(pid);
      resolve({ code: -1, signal: null });
    });
  });
  const alive = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  return {
    name,
    child,
    exited,
    alive,
    signal(sig) {
      if (!pid) return;
      try {
        process.kill(-pid, sig);
      } catch {
        // Already gone.
      }
    },
  };
}

/** Stops a process group: SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
export async function stopProc(p: Proc | undefined, graceMs = 15_000): Promise<void> {
  if (!p || !p.alive()) return;
  p.signal('SIGTERM');
  const t = setTimeout(() => p.signal('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
  // Children left in the group (none expected) go too.
  p.signal('SIGKILL');
}

/** A nats-server with JetStream on a port and store folder of its own; `restart()` keeps both. */
export interface NatsServer {
  readonly port: number;
  readonly url: string;
  readonly proc: () => Proc;
  /** Stops the server with `sig` (SIGTERM: a clean restart; SIGKILL: a crash) and starts it again. */
  restart(sig?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export async function startNats(dir: string, logDir: string): Promise<NatsServer> {
  if (!NATS_SERVER) throw new Error('nats-server not found (/usr/sbin/nats-server)');
  const store = join(dir, 'nats');
  mkdirSync(store, { recursive: true });
  const port = await freePort();
  const launch = () =>
    startProc('nats', NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], {
      logFile: join(logDir, 'nats.log'),
    });
  let proc = launch();
  const ready = () =>
    until(
      `nats-server on ${port}`,
      async () => {
        if (!proc.alive()) throw new Error(`nats-server exited (see ${join(logDir, 'nats.log')})`);
        return portOpen(port);
      },
      60_000,
      100,
    );
  await ready();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    proc: () => proc,
    async restart(sig = 'SIGTERM') {
      proc.signal(sig);
      const t = setTimeout(() => proc.signal('SIGKILL'), 20_000);
      await proc.exited;
      clearTimeout(t);
      proc = launch();
      await ready();
    },
    stop: () => stopProc(proc, 10_000),
  };
}

/** A private PostgreSQL cluster (initdb into a temporary folder, trust auth, a free port). */
export interface PgCluster {
  readonly port: number;
  /** Admin URL of database `postgres`. */
  readonly adminUrl: string;
  url(database: string): string;
  /** Stops the postmaster (`fast`: SIGINT; `immediate`: SIGQUIT, crash recovery at the next start) and starts it. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  stop(): Promise<void>;
}

const asPostgres = (command: string, args: string[]): [string, string[]] =>
  process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];

export async function startPostgres(dir: string, logDir: string): Promise<PgCluster> {
  if (!PG_BIN) throw new Error('PostgreSQL binaries not found (/usr/lib/postgresql/<v>/bin)');
  const data = join(dir, 'pgdata');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
    chownSync(data, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  }
  const [cmd, args] = asPostgres(join(PG_BIN, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-sync',
  ]);
  const init = spawnSync(cmd, args, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  const launch = () => {
    const [c, a] = asPostgres(join(PG_BIN, 'postgres'), [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      data,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=300',
      // Only the operating system's crash loses what these two skip, and the suite never crashes the machine.
      // `synchronous_commit` stays on: with it off, a commit the client saw succeed lives in WAL buffers for up
      // to 600 ms, and the immediate restart of the schedule (SIGQUIT, no flush) drops it — a durability no
      // production database is run with. The first soak lost a projected outcome and a claimed slot that way.
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'shared_buffers=64MB',
    ]);
    return startProc('postgres', c, a, { logFile: join(logDir, 'postgres.log') });
  };
  let proc = launch();
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ready = async () => {
    const pg = (await import('pg')).default;
    await until(
      `postgres on ${port}`,
      async () => {
        if (!proc.alive()) throw new Error(`postgres exited (see ${join(logDir, 'postgres.log')})`);
        const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
        try {
          await c.connect();
          await c.query('select 1');
          return true;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      90_000,
      200,
    );
  };
  await ready();
  const postmasterPid = () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return {
    port,
    adminUrl,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async restart(mode = 'fast') {
      try {
        process.kill(postmasterPid(), mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      } catch {
        proc.signal('SIGKILL');
      }
      const t = setTimeout(() => proc.signal('SIGKILL'), 30_000);
      await proc.exited;
      clearTimeout(t);
      proc = launch();
      await ready();
    },
    async stop() {
      try {
        process.kill(postmasterPid(), 'SIGQUIT');
      } catch {
        // Not running.
      }
      await stopProc(proc, 10_000);
    },
  };
}
