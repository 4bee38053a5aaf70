import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import { createRpcClient } from '@lucy/platform';
import {
  ImportedLogSchema,
  ImportedTareaSchema,
  LogLevel,
  LogService,
  TareaEstado,
  TaskService,
  type ImportedLog,
  type ImportedTarea,
} from '@lucy/proto';
import { TEST_TOKEN } from '@lucy/testkit';
import { INTERRUPTED_BY_ADOPTION, pylucyRowId } from '../src/rpc/import.rpc.js';
import { rows, startHarness, type TrackerHarness } from './helpers.js';

const at = (iso: string) => timestampFromDate(new Date(iso));

const tarea = (
  id: number,
  estado: string,
  over: MessageInitShape<typeof ImportedTareaSchema> = {},
): ImportedTarea =>
  create(ImportedTareaSchema, {
    originalId: BigInt(id),
    tipo: 'crear_usuario_teams',
    estado,
    usuario: 'admin',
    horaProgramada: at('2026-11-30T12:00:00Z'),
    horaInicio: at('2026-11-30T11:59:59.999990Z'),
    horaFin: estado === 'completed' || estado === 'failed' ? at('2026-11-30T12:00:02Z') : undefined,
    cantidadEntidades: 1n,
    ...over,
  });

const log = (id: number, over: MessageInitShape<typeof ImportedLogSchema> = {}): ImportedLog =>
  create(ImportedLogSchema, {
    originalId: BigInt(id),
    tipo: 'SUCCESS',
    modulo: 'tasks',
    mensaje: `Ingesta automática ${id}`,
    fecha: at('2026-11-30T12:00:00Z'),
    ...over,
  });

describe('ImportHistorial (adoption of pylucy)', () => {
  let h: TrackerHarness;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  let logs: ReturnType<typeof createRpcClient<typeof LogService>>;

  beforeAll(async () => {
    h = await startHarness();
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    logs = createRpcClient(LogService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  const batch = () => ({
    tareas: [
      tarea(1, 'completed', {
        detalles: create(ValueSchema, {
          kind: {
            case: 'structValue',
            value: {
              fields: {
                upn: { kind: { case: 'stringValue', value: 'a1@fce' } },
                password: { kind: { case: 'stringValue', value: 'Xy9!plaintext' } },
              },
            },
          },
        }),
      }),
      tarea(2, 'pending'),
      tarea(3, 'running', { tipo: 'moodle_enroll' }),
      tarea(4, 'failed', { mensajeError: 'T-003' }),
    ],
    logs: [log(10), log(11, { tipo: 'ERROR', alumnoId: 'a-1' })],
  });

  it('counts in a dry run and writes nothing', async () => {
    const res = await tasks.importHistorial({ ...batch(), dryRun: true });
    expect(res.tareasCreadas).toBe(4n);
    expect(res.logsCreados).toBe(2n);
    expect(res.tareasInterrumpidas).toBe(2n);
    expect(await rows(h, 'select id from tracker.tarea')).toHaveLength(0);
    expect(await rows(h, 'select id from tracker.log')).toHaveLength(0);
  });

  it('imports once, keeps original times and marks pending or running ones interrupted', async () => {
    const first = await tasks.importHistorial(batch());
    expect([first.tareasCreadas, first.tareasSinCambios, first.logsCreados]).toEqual([4n, 0n, 2n]);

    const one = await tasks.getTarea({ id: pylucyRowId('tarea', 1) });
    expect(one.tarea?.estado).toBe(TareaEstado.COMPLETED);
    expect(one.tarea?.parametros).toMatchObject({ origen: 'pylucy', id_original: '1' });
    expect(one.tarea?.durationMs).toBe(2000n);
    expect(JSON.stringify(one.tarea?.detalles)).not.toContain('plaintext');

    const pending = await tasks.getTarea({ id: pylucyRowId('tarea', 2) });
    expect(pending.tarea?.estado).toBe(TareaEstado.FAILED);
    expect(pending.tarea?.mensajeError).toContain(INTERRUPTED_BY_ADOPTION);
    const [undefinedTipo] = await rows<{ tipo: string }>(h, 'select tipo from tracker.tarea where id = ?', [
      pylucyRowId('tarea', 3),
    ]);
    expect(undefinedTipo?.tipo).toBe('moodle_enroll');

    const listed = await logs.listLogs({ levels: [LogLevel.ERROR] });
    expect(listed.logs.map((l) => l.message)).toEqual(['Ingesta automática 11']);

    const [counts] = await rows<{ n: string }>(
      h,
      'select sum(count)::text as n from tracker.tarea_hourly_count',
    );
    expect(counts?.n).toBe('4');

    // A second run (or a run after one killed midway) changes nothing.
    const again = await tasks.importHistorial(batch());
    expect([again.tareasCreadas, again.tareasSinCambios, again.logsCreados, again.logsSinCambios]).toEqual([
      0n,
      4n,
      0n,
      2n,
    ]);
    expect(await rows(h, 'select id from tracker.tarea')).toHaveLength(4);
    const [after] = await rows<{ n: string }>(
      h,
      'select sum(count)::text as n from tracker.tarea_hourly_count',
    );
    expect(after?.n).toBe('4');
  });

  it('refuses an invalid original id, naming the field', async () => {
    await expect(tasks.importHistorial({ tareas: [tarea(0, 'completed')] })).rejects.toThrow(/original/);
  });
});
