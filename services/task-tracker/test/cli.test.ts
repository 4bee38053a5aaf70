import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uuidv7 } from '@lucy/platform';
import { TEST_TOKEN } from '@lucy/testkit';
import { projectBatch, type TareaFact } from '../src/db/tarea.repository.js';
import { startHarness, type TrackerHarness } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);

// Each test starts a CLI process through tsx, which takes seconds on a busy 2-core machine.
describe('lucy tareas and lucy dashboard as a real process against the tracker', { timeout: 60_000 }, () => {
  let h: TrackerHarness;
  const ids: string[] = [];

  /** Runs `lucy <args>` with tsx as a child process (asynchronously: the tracker answers from this process). */
  const lucy = (args: string[], token = TEST_TOKEN) =>
    run(process.execPath, [`${ROOT}node_modules/tsx/dist/cli.mjs`, 'services/cli/src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, LUCY_TRACKER_URL: h.tracker.rpc.url, LUCY_TOKEN: token },
      timeout: 60_000,
    });

  beforeAll(async () => {
    h = await startHarness();
    const now = Date.now();
    const facts: TareaFact[] = [];
    for (const [i, estado] of (['failed', 'completed', 'pending'] as const).entries()) {
      const at = new Date(now - (3 - i) * 60_000);
      const taskId = uuidv7(at.getTime());
      ids.push(taskId);
      const ctx = {
        taskName: 'alumnos.tasks.crear_usuario_teams_async',
        trigger: 'admin',
        requestedBy: 'ana@fce',
      };
      facts.push({
        seq: 0,
        event: {
          kind: 'published',
          taskId,
          at,
          tipo: 'crear_usuario_teams',
          subject: 'lucy.cmd.identity.crear_usuario_teams',
          alumnoId: `alu-${i}`,
          parametros: { alumnoId: `alu-${i}` },
          payload: new Uint8Array(),
          contentType: 'application/protobuf',
          ...ctx,
        },
      });
      if (estado === 'pending') continue;
      facts.push({ seq: 0, event: { kind: 'started', taskId, at, attempt: 1, ...ctx } });
      facts.push({
        seq: 0,
        event:
          estado === 'failed'
            ? {
                kind: 'failed',
                taskId,
                at,
                attempt: 1,
                mensajeError: 'No quedan licencias A1 disponibles',
                willRetry: false,
                errorCode: 'RESOURCE_EXHAUSTED',
                detalles: null,
                ...ctx,
              }
            : { kind: 'succeeded', taskId, at, attempt: 1, cantidadEntidades: 1, detalles: null, ...ctx },
      });
    }
    await projectBatch(h.tracker.knex, facts);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('lists Tareas as JSON, newest first', async () => {
    const all = await lucy(['--json', 'tareas', 'list', '--estado', 'failed,completed,pending']);
    const parsed = JSON.parse(all.stdout) as { tareas: Array<Record<string, unknown>>; siguiente: string };
    expect(parsed.tareas.map((t) => t.id)).toEqual([...ids].reverse());
    expect(parsed.tareas[2]).toMatchObject({
      tipo: 'crear_usuario_teams',
      estado: 'failed',
      usuario: 'ana@fce',
      trigger: 'admin',
      error: 'No quedan licencias A1 disponibles',
    });
    expect(parsed.siguiente).toBe('');
  });

  it('prints the dashboard as text', async () => {
    const { stdout } = await lucy(['dashboard']);
    expect(stdout).toContain('pendientes: 1');
    expect(stdout).toContain('completadas (24 h): 1');
    expect(stdout).toContain('fallidas (24 h): 1');
    expect(stdout).toContain('Últimas 10:');
    for (const id of ids) expect(stdout).toContain(id);
  });
  it('refuses a text search on watch instead of streaming every change', async () => {
    const err = (await lucy(['tareas', 'watch', '--buscar', 'pérez']).catch((e: unknown) => e)) as {
      code?: number;
      stderr?: string;
    };
    expect(err.code).not.toBe(0);
    expect(err.stderr).toContain('--buscar: watch no busca por texto');
  });

  it('tells manual from scheduled Tareas, and which periodic task, in the ORIGEN column', async () => {
    const at = new Date(Date.now() - 3_600_000);
    const taskId = uuidv7(at.getTime());
    await projectBatch(h.tracker.knex, [
      {
        seq: 0,
        event: {
          kind: 'published',
          taskId,
          at,
          tipo: 'mantenimiento',
          subject: 'lucy.cmd.tracker.purgar_tareas',
          parametros: {},
          payload: new Uint8Array(),
          contentType: 'application/protobuf',
          taskName: 'mantenimiento.tasks.purgar_tareas_antiguas',
          trigger: 'schedule',
          requestedBy: 'scheduler',
          periodicTask: 'Limpieza diaria de Tareas antiguas',
        },
      },
    ]);
    const [json, table, show] = await Promise.all([
      lucy(['--json', 'tareas', 'list', '--trigger', 'schedule,admin']),
      lucy(['tareas', 'list', '--trigger', 'schedule']),
      lucy(['tareas', 'show', taskId]),
    ]);
    expect(show.stdout).toMatch(/origen\s*:?\s*programada «Limpieza diaria de Tareas antiguas»/i);
    const parsed = JSON.parse(json.stdout) as { tareas: Array<Record<string, unknown>> };
    expect(parsed.tareas.find((t) => t.id === taskId)).toMatchObject({
      origen: 'programada «Limpieza diaria de Tareas antiguas»',
    });
    expect(parsed.tareas.find((t) => t.id === ids[0])).toMatchObject({ origen: 'manual (ana@fce)' });
    expect(table.stdout).toMatch(/ORIGEN/);
    expect(table.stdout).toContain('programada «Limpieza diaria de Tareas antiguas»');
  });
});
