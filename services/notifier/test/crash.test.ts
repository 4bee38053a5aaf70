/**
 * kill -9 in the middle of a batch: the notifier runs as a child process (as deployed), is killed with SIGKILL
 * while 200 credential e-mails are going out, and a new process takes over. Every alumno must end with one
 * e-mail: a copy is tolerated only for a delivery that was `enviando` at the kill (the relay may or may not have
 * accepted it; SMTP cannot be asked), and then it carries the same Message-ID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSmtpSink, type SmtpSink } from '@lucy/fake-smtp';
import { createCommandPublisher } from '@lucy/platform';
import { EnviarEmailCommandSchema, TipoEmail } from '@lucy/proto';
import { createTestDatabase, createTestNats, waitFor, type TestDatabase, type TestNats } from '@lucy/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { harnessEnv, startFakeDirectory, type FakeDirectory } from './harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const N = 200;

const open: {
  children: ChildProcess[];
  sink?: SmtpSink;
  directory?: FakeDirectory;
  db?: TestDatabase;
  t?: TestNats;
} = { children: [] };

afterAll(async () => {
  for (const c of open.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await open.t?.cleanup();
  await open.db?.drop();
  await open.directory?.close();
  await open.sink?.close();
});

function startNotifier(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.on('exit', (code) => {
    if (code !== null && code !== 0) process.stderr.write(`notifier exited ${code}: ${stderr}\n`);
  });
  open.children.push(child);
  return child;
}

describe('kill -9 in the middle of a batch', () => {
  it('every alumno gets the e-mail exactly once after a restart', async () => {
    // A little latency at the end of DATA keeps several e-mails in flight when the kill lands.
    const sink = (open.sink = await createSmtpSink({ port: 0, maxMessages: 5000 }));
    sink.setFaults({ latencyMs: 15 });
    const directory = (open.directory = await startFakeDirectory());
    const db = (open.db = await createTestDatabase('notifier_crash'));
    const t = (open.t = await createTestNats());
    const env = harnessEnv(
      { sink, directory, db, t },
      { NOTIFY_CONCURRENCY: '16', NOTIFY_ACK_WAIT_MS: '5000', LOG_LEVEL: 'warn' },
    );

    const publisher = createCommandPublisher(t.handles.js, t.names);
    const tasks = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const id = `0193a1b2-0000-7000-8000-${String(i).padStart(12, '0')}`;
      directory.alumnos.set(id, {
        id,
        nombre: `Alumno ${i}`,
        apellido: 'Prueba',
        dni: String(42_000_000 + i),
        emailPersonal: `alumno${i}@gmail.com`,
      });
      directory.credentials.set(`cred-${i}`, {
        alumnoId: id,
        upn: `test-${42_000_000 + i}@eco.unrc.edu.ar`,
        password: `Clave-${i}`,
      });
      const { taskId } = await publisher.publish(
        'lucy.cmd.notify.enviar_email',
        EnviarEmailCommandSchema,
        { alumnoId: id, tipo: TipoEmail.CREDENCIALES, upn: '', credentialRef: `cred-${i}` },
        {
          taskType: 'alumnos.tasks.enviar_email_credenciales',
          requestedBy: 'identity-teams',
          trigger: 'admin',
        },
      );
      tasks.set(`alumno${i}@gmail.com`, taskId);
    }

    const first = startNotifier(env);
    // Generous: a process start (tsx, migrations) takes tens of seconds on a loaded 2-core machine.
    await waitFor(() => sink.messages().length >= 40, {
      what: 'the first e-mails',
      timeoutMs: 120_000,
      intervalMs: 20,
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = sink.messages().length;
    expect(atKill).toBeLessThan(N);

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const uncertain = new Set(
        (
          await client.query<{ task_id: string }>(
            `select task_id from notify.entrega where estado = 'enviando'`,
          )
        ).rows.map((r) => r.task_id),
      );

      const second = startNotifier(env);
      await waitFor(
        async () =>
          Number(
            (
              await client.query<{ n: string }>(
                `select count(*) as n from notify.entrega where estado = 'enviada'`,
              )
            ).rows[0]!.n,
          ) === N,
        { what: `${N} deliveries recorded`, timeoutMs: 150_000, intervalMs: 200 },
      ).catch(async (err: unknown) => {
        const states = await client.query(
          `select estado, intentos, count(*) from notify.entrega group by 1, 2`,
        );
        process.stderr.write(
          `deliveries by state ${JSON.stringify(states.rows)}, ${sink.messages().length} e-mails received, restarted notifier exit ${second.exitCode}\n`,
        );
        throw err;
      });

      const byRecipient = new Map<string, string[]>();
      for (const m of sink.messages()) {
        for (const to of m.envelope.to)
          byRecipient.set(to, [...(byRecipient.get(to) ?? []), m.messageId ?? '']);
      }
      expect(byRecipient.size).toBe(N);
      let copies = 0;
      for (const [to, ids] of byRecipient) {
        const taskId = tasks.get(to)!;
        // One Message-ID per alumno, the Tarea's.
        expect(new Set(ids)).toEqual(new Set([`<tarea-${taskId}@v.eco.unrc.edu.ar>`]));
        if (ids.length > 1) {
          copies += ids.length - 1;
          expect(ids.length).toBe(2);
          expect(uncertain.has(taskId)).toBe(true);
        }
      }
      expect(copies).toBeLessThanOrEqual(uncertain.size);
      const resent = await client.query<{ n: string }>(
        `select count(*) as n from notify.entrega where intentos > 1`,
      );
      expect(Number(resent.rows[0]!.n)).toBeLessThanOrEqual(uncertain.size);
    } finally {
      await client.end();
    }
  }, 330_000);
});
