/**
 * The `lucy cuentas …` verbs as staff run them: the real CLI (`services/cli/bin/lucy.js`) in a process of its own,
 * against a running identity-teams (and ingest-sial, the fakes, NATS and Postgres of the harness). Exit codes,
 * the Spanish output and what each verb did to the accounts are checked. A CLI run takes seconds (it starts Node,
 * and bundles or loads the TypeScript), hence the long timeouts.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Alumno } from '@lucy/proto';
import { TEST_TOKEN } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpn } from '../src/domain/index.js';
import { ADMIN_TOKEN, DOMAIN, startHarness, type Harness } from './harness.js';

const LUCY = join(import.meta.dirname, '../../cli/bin/lucy.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('lucy cuentas, as a process against a running identity-teams', () => {
  let h: Harness;
  let pool: Alumno[];
  const take = () => pool.shift()!;
  const upnOf = (a: Alumno) => buildUpn({ prefix: 'test-a', dni: a.dni, domain: DOMAIN });

  /** Runs the CLI without blocking the test's event loop (the services answer from this process). */
  const lucy = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [LUCY, ...args], {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? '/tmp',
          LUCY_IDENTITY_URL: h.service!.rpc.url,
          LUCY_TOKEN: TEST_TOKEN,
          LUCY_USER: 'ana',
          TZ: 'UTC',
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', reject);
      child.once('close', (status) => resolve({ status, stdout, stderr }));
    });
  const json = <T>(r: Run): T => {
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_cli', aspirantes: 12 });
    pool = h.alumnos.filter((a) => a.emailPersonal !== '');
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('activar schedules the Tareas and says how many; show and list read the account', async () => {
    const a = take();
    const b = take();
    const run = await lucy(['cuentas', 'activar', a.id, b.id]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('📋 2 tareas programadas');
    expect(run.stdout).toContain('programada');

    const again = json<{ alumno: string; estado: string; tarea: string }[]>(
      await lucy(['--json', 'cuentas', 'activar', a.id]),
    );
    // The first request's Tarea may still run; either way no second account is made.
    expect(again).toHaveLength(1);
    const ids = (await h.identity.listCuentas({ page: { pageSize: 10 } })).cuentas.map((c) => c.alumnoId);
    expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    const tasks = run.stdout.match(/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}/g) ?? [];
    const scheduled = tasks.filter((id) => id !== a.id && id !== b.id);
    expect(scheduled).toHaveLength(2);
    for (const o of await h.waitAll(scheduled)) expect(o.kind).toBe('succeeded');

    const shown = json<Record<string, string>>(await lucy(['--json', 'cuentas', 'show', a.id]));
    expect(shown).toMatchObject({ alumno: a.id, upn: upnOf(a), estado: 'activa', email: 'pedido' });
    const listed = json<{ alumno: string }[]>(
      await lucy(['--json', 'cuentas', 'list', '--estado', 'activa', '--search', a.dni]),
    );
    expect(listed.map((r) => r.alumno)).toEqual([a.id]);
    expect(h.graph.user(upnOf(a))?.employeeId).toBe(a.dni);
  }, 300_000);

  it('revelar needs the admin token and shows the password Graph holds; errors are Spanish and exit 1', async () => {
    const a = take();
    const res = await h.identity.enqueue({
      alumnoIds: [a.id],
      taskName: 'alumnos.tasks.crear_usuario_teams_async',
      requestedBy: 'ana',
    });
    expect((await h.waitOutcome(res.taskIds[0]!)).kind).toBe('succeeded');

    const noAdmin = await lucy(['cuentas', 'revelar', a.id, '--motivo', 'no recibió el correo']);
    expect(noAdmin.status).toBe(1);
    expect(noAdmin.stderr).toContain('Falta LUCY_ADMIN_TOKEN');
    expect(noAdmin.stdout).not.toMatch(/contrasena_temporal/);

    const wrongAdmin = await lucy(['cuentas', 'revelar', a.id, '--motivo', 'prueba'], {
      LUCY_ADMIN_TOKEN: 'not-the-admin-token-000',
    });
    expect(wrongAdmin.status).toBe(1);

    const shown = json<{ upn: string; contrasena_temporal: string }>(
      await lucy(['--json', 'cuentas', 'revelar', a.id, '--motivo', 'no recibió el correo'], {
        LUCY_ADMIN_TOKEN: ADMIN_TOKEN,
      }),
    );
    expect(shown.upn).toBe(upnOf(a));
    expect(shown.contrasena_temporal).toBe(h.graph.user(upnOf(a))?.passwordProfile?.password);

    const badId = await lucy(['cuentas', 'activar', 'no-es-un-id']);
    expect(badId.status).toBe(1);
    expect(badId.stderr).toContain('<alumnos...>: "no-es-un-id" no es un identificador válido');
    const noToken = await lucy(['cuentas', 'list'], { LUCY_TOKEN: '' });
    expect(noToken.status).toBe(1);
    expect(noToken.stderr).toContain('Falta el token');
  }, 300_000);

  it('resetear gives a new password; eliminar removes the accounts; retenidas lists none', async () => {
    const a = take();
    const res = await h.identity.enqueue({
      alumnoIds: [a.id],
      taskName: 'alumnos.tasks.activar_servicios_alumno',
      requestedBy: 'ana',
    });
    expect((await h.waitOutcome(res.taskIds[0]!)).kind).toBe('succeeded');
    const before = h.graph.user(upnOf(a))?.passwordProfile?.password;

    const reset = json<{ estado: string; tarea: string }[]>(
      await lucy(['--json', 'cuentas', 'resetear', a.id]),
    );
    expect(reset[0]?.estado).toBe('programada');
    expect((await h.waitOutcome(reset[0]!.tarea)).kind).toBe('succeeded');
    expect(h.graph.user(upnOf(a))?.passwordProfile?.password).not.toBe(before);

    // Asked again on purpose: a new request, a new Tarea. The same --clave twice: a retry, the first one's Tarea.
    const resetear = async (...args: string[]) =>
      json<{ estado: string; tarea: string }[]>(
        await lucy(['--json', 'cuentas', 'resetear', a.id, ...args]),
      )[0]!;
    const second = await resetear();
    expect(second.estado).toBe('programada');
    expect(second.tarea).not.toBe(reset[0]!.tarea);
    const keyed = await resetear('--clave', 'reintento-0001');
    const retried = await resetear('--clave', 'reintento-0001');
    expect(retried.tarea).toBe(keyed.tarea);
    expect(keyed.tarea).not.toBe(second.tarea);
    for (const t of [second.tarea, keyed.tarea]) expect((await h.waitOutcome(t)).kind).toBe('succeeded');
    expect((await lucy(['cuentas', 'resetear', a.id, '--clave', 'con espacio'])).stderr).toContain('--clave');

    const del = await lucy(['cuentas', 'eliminar', a.id, '--motivo', 'baja pedida']);
    expect(del.status, del.stderr).toBe(0);
    const taskId = /^Tarea ([0-9a-f-]{36}): eliminar (\S+)$/m.exec(del.stdout);
    expect(taskId?.[2]).toBe(upnOf(a));
    expect((await h.waitOutcome(taskId![1]!)).kind).toBe('succeeded');
    expect(h.graph.user(upnOf(a))?.deletedDateTime).toBeTruthy();

    expect(json<unknown[]>(await lucy(['--json', 'cuentas', 'retenidas']))).toEqual([]);
  }, 300_000);
});
