// `npm run up` with the embedded database, end to end: the supervisor starts PGlite, migrates every service,
// starts the services and the fakes on a port set of its own, and a manual ingestion started with the lucy CLI
// completes. Then one Ctrl-C stops everything with the services' graceful drain.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createNames, createRpcClient, destroyNames, connectNats } from '@lucy/platform';
import { TareaEstado, TaskService } from '@lucy/proto';
import { TEST_NATS_URL, testLogger, testPrefix, waitFor } from '@lucy/testkit';

const root = join(import.meta.dirname, '..', '..', '..');
const lucy = join(root, 'services', 'cli', 'bin', 'lucy.js');

/** Every port `npm run up` listens on by default (the services' /metrics ports are RPC_PORT + 2000). */
const DEFAULT_PORTS = [
  ...[7101, 7102, 7103, 7104, 7105].flatMap((p) => [p, p + 2000]),
  8088,
  8443,
  8089,
  1025,
  8025,
  5173,
  5433,
];

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Runs the lucy CLI as a user does (bin/lucy.js), without blocking the test's event loop. */
function lucyCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [lucy, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** An offset that moves every default port onto a free one (never a developer's `npm run up`). */
async function freeOffset(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Every moved port stays within 11025–32095, below Linux's ephemeral range (32768 up), where the port-0
    // listeners of tests running in parallel land: a port found free here stays free.
    const offset = 10_000 + 10 * Math.floor(Math.random() * 1_300);
    const free = await Promise.all(DEFAULT_PORTS.map((p) => portFree(p + offset)));
    if (free.every(Boolean)) return offset;
  }
  throw new Error('no free port set found');
}

describe('npm run up with LUCY_EMBEDDED_DB=1', () => {
  let dataDir: string;
  let offset: number;
  let prefix: string;
  let up: ChildProcess;
  let output = '';
  let env: Record<string, string>;

  // On a failure, the supervisor's output is what explains it.
  beforeEach(({ onTestFailed }) =>
    onTestFailed(() => console.log(`--- up output ---\n${output.slice(-8000)}`)),
  );

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'lucy-up-'));
    offset = await freeOffset();
    prefix = testPrefix('up');
    up = spawn(process.execPath, [join(root, 'scripts', 'dev.mjs')], {
      cwd: root,
      env: {
        ...process.env,
        LUCY_EMBEDDED_DB: '1',
        // The admin has tests of its own; its production build would only slow this one down.
        LUCY_ADMIN: '0',
        LUCY_PORT_OFFSET: String(offset),
        LUCY_DATA_DIR: dataDir,
        LUCY_PREFIX: prefix,
        NATS_URL: TEST_NATS_URL,
        LOG_LEVEL: 'info',
        // The test runner's own settings are not the stack's.
        NODE_OPTIONS: '',
        VITEST: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    up.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    up.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    await waitFor(
      () => {
        if (up.exitCode !== null) throw new Error(`up exited (${up.exitCode}):\n${output}`);
        return output.includes('Lucy Tasks is up');
      },
      { timeoutMs: 240_000, intervalMs: 200, what: 'npm run up to print its URLs' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- up output ---\n${output.slice(-6000)}`);
    });
    const token = (await readFile(join(dataDir, 'dev-token'), 'utf8')).trim();
    env = {
      PATH: process.env.PATH ?? '',
      LUCY_TOKEN: token,
      LUCY_TRACKER_URL: `http://127.0.0.1:${7101 + offset}`,
      LUCY_SCHEDULER_URL: `http://127.0.0.1:${7102 + offset}`,
      LUCY_INGEST_URL: `http://127.0.0.1:${7103 + offset}`,
      LUCY_USER: 'embedded-test',
    };
  }, 260_000);

  afterAll(async () => {
    // The services run in process groups of their own: only the supervisor can stop them, so it gets time to.
    if (up && up.exitCode === null && up.signalCode === null) {
      up.kill('SIGTERM');
      await Promise.race([once(up, 'exit'), new Promise((r) => setTimeout(r, 60_000))]);
    }
    const handles = await connectNats({ NATS_URL: TEST_NATS_URL }, testLogger('nats'), `cleanup-${prefix}`);
    await destroyNames(handles, createNames(prefix)).catch(() => undefined);
    await handles.nc.close();
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('uses PGlite even though a Postgres may answer, and says so without claiming none was found', () => {
    expect(output).toContain('LUCY_EMBEDDED_DB is set; using embedded PGlite');
    expect(output).not.toContain('none found');
    expect(output).not.toMatch(/migrate failed|start-up failed/);
  });

  it('runs a manual ingestion started with the lucy CLI to a completed Tarea', async () => {
    const run = await lucyCli(['ingest', 'run', 'aspirantes'], env);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const taskId = run.stdout.trim();
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);

    const tracker = createRpcClient(TaskService, { baseUrl: env.LUCY_TRACKER_URL!, token: env.LUCY_TOKEN! });
    const tarea = await waitFor(
      async () => {
        const t = (await tracker.getTarea({ id: taskId })).tarea;
        if (t?.estado === TareaEstado.FAILED) throw new Error(`ingestion failed: ${t.mensajeError}`);
        return t?.estado === TareaEstado.COMPLETED ? t : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250, what: 'the ingestion Tarea to complete' },
    );
    // The SIAL fake of `up` serves 200 aspirantes.
    expect(Number(tarea.cantidadEntidades)).toBe(200);
    expect(tarea.requestedBy).toBe('embedded-test');
  }, 180_000);

  it('shows an alumno by the document exactly as `alumnos list` prints it', async () => {
    const list = await lucyCli(['alumnos', 'list', '--limite', '1'], env);
    expect(list.stderr).toBe('');
    const documento = /DNI \d+/.exec(list.stdout)?.[0];
    expect(documento, list.stdout).toBeDefined();
    const show = await lucyCli(['alumnos', 'show', documento!], env);
    expect(show.stderr).toBe('');
    expect(show.stdout).toContain(`dni: ${documento}`);
  }, 60_000);

  it('prints --json instants as ISO 8601 with the Córdoba offset', async () => {
    const res = await lucyCli(['alumnos', 'list', '--limite', '2', '--json'], env);
    expect(res.stderr).toBe('');
    const { alumnos } = JSON.parse(res.stdout) as { alumnos: { creado: string }[] };
    expect(alumnos).toHaveLength(2);
    for (const a of alumnos) {
      expect(a.creado).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}-03:00$/);
      expect(Date.now() - new Date(a.creado).getTime()).toBeLessThan(30 * 60_000);
    }
  }, 60_000);

  it('shows when the last ingestion completed in `ingest config show`, apart from the checkpoint', async () => {
    const res = await lucyCli(['--json', 'ingest', 'config', 'show'], env);
    expect(res.stderr).toBe('');
    const { ventanas } = JSON.parse(res.stdout) as {
      ventanas: { tipo: string; ultima_ingesta?: string; checkpoint?: string }[];
    };
    const aspirantes = ventanas.find((v) => v.tipo === 'aspirantes');
    // The manual run completed; as a manual run it leaves the periodic checkpoint alone.
    expect(aspirantes?.ultima_ingesta).toMatch(/-03:00$/);
    expect(aspirantes?.checkpoint).toBeUndefined();
    expect(ventanas.find((v) => v.tipo === 'ingresantes')?.ultima_ingesta).toBeUndefined();
    const table = await lucyCli(['ingest', 'config', 'show'], env);
    expect(table.stdout).toMatch(/ULTIMA_INGESTA\s+CHECKPOINT/);
  }, 60_000);

  it('names invalid fields in Spanish without a gRPC code, which --json keeps', async () => {
    const args = [
      'schedule',
      'create',
      'prueba',
      'alumnos.tasks.ingestar_aspirantes',
      '--cron',
      '99 * * * *',
    ];
    const res = await lucyCli(args, env);
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^error: .*Minuto del crontab: /);
    expect(res.stderr).not.toMatch(/crontab\.minute|\(3\)|invalid_argument/);
    const json = await lucyCli(['--json', ...args], env);
    expect(json.status).toBe(1);
    const { error } = JSON.parse(json.stderr) as { error: { code: string; codeNumber: number } };
    expect(error).toMatchObject({ code: 'invalid_argument', codeNumber: 3 });
  }, 60_000);

  it('ends quietly when the reader closes the pipe (lucy … | head)', async () => {
    const child = spawn(process.execPath, [lucy, 'alumnos', 'list', '--limite', '200', '--json'], { env });
    let stderr = '';
    let received = 0;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Like `head`: read the first chunk, then close our end while the CLI is still writing.
    child.stdout.once('data', (d: Buffer) => {
      received = d.length;
      child.stdout.destroy();
    });
    const [code] = (await once(child, 'close')) as [number | null];
    expect(received).toBeGreaterThan(0);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 60_000);

  it('stops on one Ctrl-C (even delivered twice, as npm forwards it) with every service drained', async () => {
    // A terminal's Ctrl-C reaches the supervisor, and npm forwards it once more.
    up.kill('SIGINT');
    setTimeout(() => up.kill('SIGINT'), 100);
    const [code] = (await once(up, 'exit')) as [number | null];
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).not.toContain('second signal');
    expect(output).not.toContain('did not stop within');
    for (const service of ['task-tracker', 'scheduler', 'ingest-sial']) {
      expect(output).toMatch(new RegExp(`\\[${service}\\].*"msg":"stopped"`));
    }
    const listening = await Promise.all(DEFAULT_PORTS.map((p) => portAnswers(p + offset)));
    expect(DEFAULT_PORTS.filter((_, i) => listening[i]).map((p) => p + offset)).toEqual([]);
  }, 120_000);
});

describe('npm run up on a machine without Postgres', () => {
  it('chooses embedded PGlite by itself, and one Ctrl-C during the migrations stops everything', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'lucy-up-nopg-'));
    const offset = await freeOffset();
    // A port where nothing listens stands for the machine's missing Postgres.
    let noPostgres = 0;
    for (let p = 15_432; !noPostgres; p += 7) if (await portFree(p)) noPostgres = p;
    const prefix = testPrefix('upnopg');
    const up = spawn(process.execPath, [join(root, 'scripts', 'dev.mjs')], {
      cwd: root,
      env: {
        ...process.env,
        LUCY_EMBEDDED_DB: '',
        DATABASE_URL: '',
        LUCY_POSTGRES_PORT: String(noPostgres),
        LUCY_PORT_OFFSET: String(offset),
        LUCY_DATA_DIR: dataDir,
        LUCY_PREFIX: prefix,
        LUCY_DEMO: '0',
        LUCY_ADMIN: '0',
        NATS_URL: TEST_NATS_URL,
        NODE_OPTIONS: '',
        VITEST: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    up.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    up.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    try {
      await waitFor(() => output.includes('migrating '), {
        timeoutMs: 180_000,
        intervalMs: 100,
        what: 'the migrations to start on PGlite',
      });
      expect(output).toContain(`Postgres: none answers on 127.0.0.1:${noPostgres}`);
      expect(output).toContain(`starting embedded PGlite on 127.0.0.1:${5433 + offset}`);
      up.kill('SIGINT');
      const [code] = (await once(up, 'exit')) as [number | null];
      expect(code, output.slice(-3000)).toBe(0);
      expect(output).not.toMatch(/start-up failed|second signal/);
      expect(await portAnswers(5433 + offset)).toBe(false);
    } finally {
      if (up.exitCode === null && up.signalCode === null) up.kill('SIGTERM');
      const handles = await connectNats({ NATS_URL: TEST_NATS_URL }, testLogger('nats'), `cleanup-${prefix}`);
      await destroyNames(handles, createNames(prefix)).catch(() => undefined);
      await handles.nc.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 300_000);
});
