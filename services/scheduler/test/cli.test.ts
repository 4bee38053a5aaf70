import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TOKEN } from '@lucy/testkit';
import { createInfra, startReplica, type Infra, type Replica } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const run = promisify(execFile);

describe('lucy schedule / lucy tasks registered (the CLI as a real process)', () => {
  let infra: Infra;
  let r: Replica;
  let outputs: Promise<[string, string, string]>;
  let failure: Promise<string>;
  let created: Promise<string>;

  beforeAll(async () => {
    infra = await createInfra();
    r = await startReplica(infra);
    // Every process at once (each pays tsx's start-up on a 2-core machine); each test awaits its own.
    outputs = Promise.all([
      lucy('--json', 'schedule', 'list'),
      lucy(
        'schedule',
        'preview',
        'Limpieza diaria de Tareas antiguas',
        '-n',
        '3',
        '--desde',
        '2027-07-01T12:00:00Z',
      ),
      lucy('tasks', 'registered'),
    ]);
    failure = lucy('schedule', 'preview', 'No existe');
    created = lucy(
      'schedule',
      'create',
      'Ingesta de aspirantes cada 5 minutos',
      'alumnos.tasks.ingestar_aspirantes',
      '--cron',
      '*/5 * * * *',
      '--deshabilitada',
    );
    created.catch(() => undefined);
    // Handled by the tests; keep an early rejection from being reported as unhandled.
    outputs.catch(() => undefined);
    failure.catch(() => undefined);
  }, 60_000);
  afterAll(async () => {
    await r?.stop();
    await infra?.cleanup();
  });

  /** Runs `lucy <args>` against the in-process replica; resolves with stdout (rejects on a non-zero exit). */
  const lucy = async (...args: string[]): Promise<string> =>
    (
      await run(process.execPath, [TSX, 'services/cli/src/main.ts', ...args], {
        cwd: ROOT,
        env: { ...process.env, LUCY_SCHEDULER_URL: r.scheduler.rpc.url, LUCY_TOKEN: TEST_TOKEN },
        timeout: 45_000,
      })
    ).stdout;

  it('lists periodic tasks as JSON, previews one by name, and lists the registered tasks', async () => {
    const [list, preview, registered] = await outputs;

    // The defaults created on first start, with their schedule and state.
    const rows = JSON.parse(list) as Array<Record<string, unknown>>;
    const cleanup = rows.find((t) => t.nombre === 'Limpieza diaria de Tareas antiguas');
    expect(cleanup).toMatchObject({
      tarea: 'mantenimiento.tasks.purgar_tareas_antiguas',
      habilitada: 'sí',
      ejecuciones: 0,
    });
    expect(rows.filter((t) => String(t.nombre).startsWith('Ingesta automática'))).toHaveLength(3);
    expect(
      rows.filter((t) => String(t.nombre).startsWith('Ingesta automática')).map((t) => t.habilitada),
    ).toEqual(['no', 'no', 'no']);

    // 04:00 Córdoba (UTC−3, no DST) is 07:00 UTC, on the three days after the given instant.
    const instants = preview.match(/\d{4}-\d\d-\d\dT[\d:.]+Z/g);
    expect(instants).toEqual([
      '2027-07-02T07:00:00.000Z',
      '2027-07-03T07:00:00.000Z',
      '2027-07-04T07:00:00.000Z',
    ]);
    expect(preview).toMatch(/HORA_LOCAL/);

    // What createInfra announced for ingest-sial and task-tracker, with the schedulable ones marked.
    expect(registered).toMatch(/^NOMBRE\s+SERVICIO\s+PROGRAMABLE/m);
    expect(registered).toMatch(/alumnos\.tasks\.ingestar_aspirantes\s+ingest-sial\s+sí/);
    expect(registered).toMatch(/mantenimiento\.tasks\.purgar_tareas_antiguas\s+task-tracker/);
  }, 60_000);

  it('exits non-zero with the server error in Spanish for an unknown task', async () => {
    await expect(failure).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^error: .+No existe/m) as unknown,
    });
  }, 60_000);

  it('creates an ingestion every 5 minutes and prints the 30-minute warning', async () => {
    const out = await created;
    expect(out).toContain('Ingesta de aspirantes cada 5 minutos');
    expect(out).toContain(
      'Advertencia: «Ingesta de aspirantes cada 5 minutos» ejecuta una ingesta cada 5 minutos, más de una vez ' +
        'cada 30 minutos: la buena práctica es no más de 1 vez cada 30 minutos para evitar sobrecarga de SIAL',
    );
  }, 60_000);
});
