import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createCommandPublisher, createRpcClient, uuidv7 } from '@lucy/platform';
import { EliminarCuentaExternaCommandSchema, ImportedTareaSchema, TaskService } from '@lucy/proto';
import { TEST_TOKEN, waitFor } from '@lucy/testkit';
import { pylucyRowId } from '../src/rpc/import.rpc.js';
import { searchClause, uuidPrefixRange } from '../src/rpc/task.rpc.js';
import { rows, startHarness, type TrackerHarness } from './helpers.js';

const tarea = (id: number, over: MessageInitShape<typeof ImportedTareaSchema>) =>
  create(ImportedTareaSchema, {
    originalId: BigInt(id),
    tipo: 'crear_usuario_teams',
    estado: 'completed',
    usuario: 'admin',
    horaProgramada: timestampFromDate(new Date(Date.UTC(2026, 10, 30, 12, id))),
    horaFin: timestampFromDate(new Date(Date.UTC(2026, 10, 30, 12, id, 2))),
    cantidadEntidades: 1n,
    ...over,
  });

describe('uuidPrefixRange', () => {
  it('spans the UUIDs that start with the typed hex digits', () => {
    expect(uuidPrefixRange('3FA85F64')).toEqual([
      '3fa85f64-0000-0000-0000-000000000000',
      '3fa85f64-ffff-ffff-ffff-ffffffffffff',
    ]);
    expect(uuidPrefixRange('3fa85f64-57')).toEqual([
      '3fa85f64-5700-0000-0000-000000000000',
      '3fa85f64-57ff-ffff-ffff-ffffffffffff',
    ]);
    expect(uuidPrefixRange('3fa85f64-')?.[0]).toBe('3fa85f64-0000-0000-0000-000000000000');
  });

  it('is null for what cannot start a UUID, or is too short to narrow anything', () => {
    for (const q of [
      '3fa85f6',
      'pérez',
      '3fa85f6-4',
      '3fa85f641',
      '3fa85f64--57',
      '3fa85f64-5717-4562-b3fc-2c963f66afa6-1',
    ])
      expect(uuidPrefixRange(q), q).toBeNull();
  });

  it('escapes LIKE wildcards in the text part', () => {
    expect(searchClause('50%_x\\').bindings.at(-1)).toBe('%50\\%\\_x\\\\%');
  });
});

describe('ListTareas search over a real server', () => {
  let h: TrackerHarness;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  const alumnoA = uuidv7();
  const alumnoB = uuidv7();
  const ids: Record<string, string> = {};
  const found = async (search: string) =>
    (await tasks.listTareas({ filter: { search }, page: { pageSize: 50 } })).tareas.map((t) => t.id).sort();

  beforeAll(async () => {
    h = await startHarness();
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    await tasks.importHistorial({
      tareas: [
        tarea(1, {
          alumnoId: alumnoA,
          alumnoNombre: 'Pérez, Juana',
          alumnoDni: '40123456',
          usuario: 'ana@fce',
        }),
        tarea(2, {
          alumnoId: alumnoB,
          alumnoNombre: 'Gómez, Luis',
          alumnoDni: '38999111',
          estado: 'failed',
          mensajeError: 'Sin licencias disponibles (SKU STANDARDWOFFPACK_STUDENT)',
        }),
        tarea(3, { usuario: 'beto@fce' }),
        tarea(987654, { alumnoId: 'abcd1234', usuario: 'carla@fce' }),
      ],
    });
    for (const n of [1, 2, 3, 987654]) ids[n] = pylucyRowId('tarea', n);
    // A command naming only a UPN (the alumno already deleted): found by it.
    const pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
    const { taskId } = await pub.publish(
      'lucy.cmd.identity.eliminar_cuenta_externa',
      EliminarCuentaExternaCommandSchema,
      { alumnoId: uuidv7(), upn: 'test-41222333@fce.example.edu.ar', moodleUsername: 'moodle-41222333x' },
      { taskType: 'alumnos.tasks.eliminar_cuenta_externa', requestedBy: 'sistema', trigger: 'external' },
    );
    ids.upn = taskId;
    await waitFor(async () => (await tasks.getTarea({ id: taskId }).catch(() => undefined))?.tarea, {
      what: 'the eliminar Tarea',
    });
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('finds a Tarea by alumno name, DNI, user, error and UPN substrings', async () => {
    expect(await found('pérez')).toEqual([ids[1]]);
    expect(await found('0123')).toEqual([ids[1]]);
    expect(await found('ana@')).toEqual([ids[1]]);
    expect(await found('licencias disp')).toEqual([ids[2]]);
    expect(await found('41222333')).toEqual([ids.upn]);
    expect(await found('beto')).toEqual([ids[3]]);
    expect(await found('moodle-412')).toEqual([ids.upn]);
    // An imported Tarea by its pylucy number.
    expect(await found('987654')).toEqual([ids[987654]]);
    expect(await found('nadie así')).toEqual([]);
  });

  it('finds by a whole id: the Tarea, or every Tarea of an alumno', async () => {
    expect(await found(ids[2]!)).toEqual([ids[2]]);
    expect(await found(ids[2]!.toUpperCase())).toEqual([ids[2]]);
    expect(await found(alumnoA)).toEqual([ids[1]]);
    expect(await found(` {${ids[2]!.replace(/-/g, '').toUpperCase()}} `)).toEqual([ids[2]]);
    // An alumno id typed whole that happens to be hex digits only.
    expect(await found('abcd1234')).toEqual([ids[987654]]);
  });

  it('finds by the last hex digits of an id, as the admin shows it', async () => {
    for (const id of [ids.upn!, ids[2]!]) {
      expect(await found(id.slice(-12))).toEqual([id]);
      expect(await found(id.slice(-8))).toEqual([id]);
      expect(await found(id.slice(-17).toUpperCase())).toEqual([id]);
    }
  });

  it('finds by the first hex digits of a Tarea id, as a list shows it', async () => {
    const id = ids[3]!;
    expect(await found(id.slice(0, 8))).toContain(id);
    expect(await found(id.slice(0, 11))).toContain(id);
    // The text search still applies to the same input: "4012" is a DNI's start as much as an id's.
    expect(await found('4012')).toContain(ids[1]);
  });

  it('is served by the trigram index, not a scan of tarea (the expression matches the migration)', async () => {
    const { sql, bindings } = searchClause('pérez');
    const plan = await h.tracker.knex.transaction(async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      const res = await trx.raw<{ rows: { 'QUERY PLAN': string }[] }>(
        `explain select id from tracker.tarea where ${sql}`,
        bindings,
      );
      return res.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('tarea_busqueda_trgm_idx');
    expect(plan).not.toMatch(/Seq Scan|Index Scan using tarea_scheduled_idx/);
    const indexes = await rows<{ indexname: string }>(
      h,
      `select indexname from pg_indexes where schemaname = 'tracker' and indexname like '%trgm%'`,
    );
    expect(indexes.map((i) => i.indexname)).toEqual(['tarea_busqueda_trgm_idx']);
    const suffix = searchClause(ids.upn!.slice(-12));
    const suffixPlan = await h.tracker.knex.transaction(async (trx) => {
      await trx.raw('set local enable_seqscan = off');
      const res = await trx.raw<{ rows: { 'QUERY PLAN': string }[] }>(
        `explain select id from tracker.tarea where ${suffix.sql}`,
        suffix.bindings,
      );
      return res.rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(suffixPlan).toContain('tarea_id_suffix_idx');
    expect(suffixPlan).toContain('tarea_busqueda_trgm_idx');
  });
});
