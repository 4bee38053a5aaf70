/**
 * kill -9 of identity-teams in the middle of 200 activations, then a restart: every activation ends completed,
 * once — one Graph user per alumno, one credentials e-mail per alumno, and the password each e-mail resolves to
 * is the one the account has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { ActivarServiciosCommandSchema } from '@lucy/proto';
import { waitFor, freePort } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

const PACKAGE = resolve(import.meta.dirname, '..');
const ACTIVACIONES = 200;

describe('identity-teams killed with SIGKILL mid-run', () => {
  let h: Harness;
  let child: ChildProcess | undefined;

  const startChild = async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: PACKAGE,
      env: { ...process.env, ...h.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child = proc;
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`identity-teams exited: ${stderr}`);
        return (await fetch(`http://127.0.0.1:${h.env.RPC_PORT}/readyz`).catch(() => undefined))?.ok;
      },
      { timeoutMs: 60_000, what: 'identity-teams ready', intervalMs: 200 },
    );
    return proc;
  };

  beforeAll(async () => {
    const port = await freePort();
    h = await startHarness({
      label: 'identity_crash',
      aspirantes: ACTIVACIONES,
      external: true,
      env: {
        RPC_PORT: String(port),
        METRICS_PORT: '0',
        IDENTITY_ACK_WAIT_MS: '3000',
        IDENTITY_CONCURRENCY: '16',
        // The write budget is not what this test is about (reliability.test.ts measures it).
        GRAPH_WRITES_PER_WINDOW: '1000000',
        GRAPH_WRITE_BURST: '10000',
      },
    });
  }, 180_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await h?.stop();
  });

  it('completes every activation once after kill -9 and a restart: no duplicate Graph user, no second e-mail', async () => {
    const first = await startChild();
    const alumnos = h.alumnos.slice(0, ACTIVACIONES);
    expect(alumnos).toHaveLength(ACTIVACIONES);
    const taskIds: string[] = [];
    for (const a of alumnos) {
      const { taskId } = await h.publisher.publish(
        'lucy.cmd.identity.activar_servicios',
        ActivarServiciosCommandSchema,
        { alumnoId: a.id },
        { taskType: 'alumnos.tasks.activar_servicios_alumno', requestedBy: 'ana', trigger: 'admin' },
      );
      taskIds.push(taskId);
    }
    // Mid-run: some accounts made, most not.
    await waitFor(() => h.graph.users().length >= 40, {
      timeoutMs: 60_000,
      what: '40 accounts',
      intervalMs: 5,
    });
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = h.graph.users().length;
    expect(atKill).toBeLessThan(ACTIVACIONES);

    await startChild();
    const outcomes = await h.waitAll(taskIds, 240_000);
    expect(outcomes.filter((o) => o.kind !== 'succeeded')).toEqual([]);

    const users = h.graph.users();
    expect(users).toHaveLength(ACTIVACIONES);
    expect(new Set(users.map((u) => u.employeeId)).size).toBe(ACTIVACIONES);
    for (const u of users) expect(u.assignedLicenses).toHaveLength(1);
    expect(h.moodle.state().users.filter((u) => u.username.startsWith('test-a'))).toHaveLength(ACTIVACIONES);

    const emails = await h.emails();
    const withEmail = alumnos.filter((a) => a.emailPersonal !== '');
    expect(emails).toHaveLength(withEmail.length);
    expect(new Set(emails.map((e) => e.command.alumnoId)).size).toBe(withEmail.length);
    // Each e-mail resolves to the password the account has now (an adoption after the kill reset it to the
    // task's own credential, never a different one).
    const byUpn = new Map(users.map((u) => [u.userPrincipalName, u.passwordProfile.password]));
    for (const e of emails) {
      const resolved = await h.identity.resolveCredential({
        credentialRef: e.command.credentialRef,
        alumnoId: e.command.alumnoId,
        taskId: e.taskId,
      });
      expect(resolved.password).toBe(byUpn.get(resolved.upn));
    }
  }, 300_000);
});
