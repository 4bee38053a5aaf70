import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import {
  createCommandPublisher,
  createOrm,
  errorInterceptor,
  migrate,
  uuidv7,
  type MikroORM,
} from '@lucy/platform';
import { BadRequestSchema, TareaEstado, TareaTipo, TaskService } from '@lucy/proto';
import {
  createTestDatabase,
  createTestNats,
  testLogger,
  type TestDatabase,
  type TestNats,
} from '@lucy/testkit';
import { trackerOrm } from '../src/db/index.js';
import { projectBatch, type TareaFact } from '../src/db/tarea.repository.js';
import { createBroadcaster } from '../src/domain/broadcaster.js';
import type { TareaEvent } from '../src/domain/projection.js';
import { createTaskRpc } from '../src/rpc/task.rpc.js';

const NOW = new Date('2026-11-20T15:00:00Z');
const HOUR = 3_600_000;
const ago = (hours: number) => new Date(NOW.getTime() - hours * HOUR);

/** A Tarea's facts: its command `hoursAgo`, and optionally its start and end a minute later. */
function tarea(
  o: {
    hoursAgo: number;
    tipo?: string;
    subject?: string;
    taskName?: string;
    alumnoId?: string;
    alumnoNombre?: string;
    alumnoDni?: string;
    requestedBy?: string;
    ends?: 'running' | 'completed' | 'failed';
    error?: string;
  },
  ids: string[],
): TareaFact[] {
  const at = ago(o.hoursAgo);
  const taskId = uuidv7(at.getTime());
  ids.push(taskId);
  const ctx = { taskName: o.taskName ?? 'alumnos.tasks.crear_usuario_teams_async' };
  const events: TareaEvent[] = [
    {
      kind: 'published',
      taskId,
      at,
      tipo: o.tipo ?? 'crear_usuario_teams',
      subject: o.subject ?? 'lucy.cmd.identity.crear_usuario_teams',
      alumnoId: o.alumnoId,
      alumnoNombre: o.alumnoNombre,
      alumnoDni: o.alumnoDni,
      parametros: o.alumnoId ? { alumnoId: o.alumnoId } : {},
      payload: new Uint8Array(),
      contentType: 'application/protobuf',
      trigger: 'admin',
      requestedBy: o.requestedBy ?? 'ana@fce',
      ...ctx,
    },
  ];
  const later = new Date(at.getTime() + 60_000);
  if (o.ends) events.push({ kind: 'started', taskId, at: later, attempt: 1, ...ctx });
  if (o.ends === 'completed')
    events.push({
      kind: 'succeeded',
      taskId,
      at: later,
      attempt: 1,
      cantidadEntidades: 1,
      detalles: null,
      ...ctx,
    });
  if (o.ends === 'failed')
    events.push({
      kind: 'failed',
      taskId,
      at: later,
      attempt: 1,
      mensajeError: o.error ?? 'Graph respondió 503',
      willRetry: false,
      errorCode: 'UNAVAILABLE',
      detalles: null,
      ...ctx,
    });
  return events.map((event) => ({ event, seq: 0 }));
}

describe('TaskService in memory (createRouterTransport)', () => {
  let db: TestDatabase;
  let nats: TestNats;
  let orm: MikroORM;
  let client: Client<typeof TaskService>;
  const ids: string[] = [];
  const ingestas: string[] = [];
  const failedIngestas: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('tracker_test');
    nats = await createTestNats();
    orm = await createOrm({ url: db.url, ...trackerOrm });
    await migrate(orm, trackerOrm.schema);
    const knex = orm.em.getKnex();
    const transport = createRouterTransport(
      (router) => {
        router.service(
          TaskService,
          createTaskRpc({
            knex,
            broadcaster: createBroadcaster(),
            publisher: createCommandPublisher(nats.handles.js, nats.names),
            nats: nats.handles,
            names: nats.names,
            cancellations: nats.buckets.cancellations,
            clock: () => NOW,
          }),
        );
      },
      { router: { interceptors: [errorInterceptor(testLogger())] } },
    );
    client = createClient(TaskService, transport);

    const facts: TareaFact[] = [];
    // Newest first in `ids`: 12 Tareas of the last 30 hours plus two of last week.
    facts.push(...tarea({ hoursAgo: 0.1 }, ids));
    facts.push(...tarea({ hoursAgo: 0.5, ends: 'running' }, ids));
    for (let i = 0; i < 6; i++) {
      facts.push(
        ...tarea(
          {
            hoursAgo: 1 + i,
            ends: i % 2 ? 'failed' : 'completed',
            alumnoId: `alu-${i}`,
            alumnoNombre: `Pérez, Juan ${i}`,
            alumnoDni: `4012345${i}`,
            error: i === 3 ? 'No quedan licencias A1 disponibles' : undefined,
          },
          ids,
        ),
      );
    }
    const ingesta = {
      tipo: 'ingesta_aspirantes',
      subject: 'lucy.cmd.ingest.ingestar_aspirantes',
      taskName: 'alumnos.tasks.ingestar_aspirantes',
      requestedBy: 'beat',
    };
    for (const [i, ends] of (['failed', 'completed', 'failed', 'failed'] as const).entries()) {
      const before = ids.length;
      facts.push(...tarea({ ...ingesta, hoursAgo: 10 + i * 5, ends, error: 'SIAL no respondió' }, ids));
      ingestas.push(ids[before]!);
      if (ends === 'failed') failedIngestas.push(ids[before]!);
    }
    facts.push(...tarea({ hoursAgo: 24 * 7, ends: 'completed' }, ids));
    facts.push(...tarea({ hoursAgo: 24 * 8, ends: 'failed' }, ids));
    await projectBatch(knex, facts, [], { now: NOW });
  });
  afterAll(async () => {
    await orm?.close();
    await nats?.cleanup();
    await db?.drop();
  });

  it('lists failed ingestions of aspirantes, newest first', async () => {
    const res = await client.listTareas({
      filter: { estados: [TareaEstado.FAILED], tipos: [TareaTipo.INGESTA_ASPIRANTES] },
    });
    expect(res.tareas.map((t) => t.id)).toEqual(failedIngestas);
    expect(res.tareas[0]).toMatchObject({ mensajeError: 'SIAL no respondió', requestedBy: 'beat' });
    expect(res.page?.nextPageToken).toBe('');
  });

  it('lists one date range, and pages through it with the keyset token', async () => {
    const filter = { desde: timestampFromDate(ago(24)), hasta: timestampFromDate(ago(0.25)) };
    const first = await client.listTareas({ filter, page: { pageSize: 5 } });
    expect(first.tareas).toHaveLength(5);
    const rest = await client.listTareas({
      filter,
      page: { pageSize: 5, pageToken: first.page!.nextPageToken },
    });
    const all = [...first.tareas, ...rest.tareas].map((t) => t.id);
    // Everything but the one of 6 minutes ago and those older than 24 h, in order, each once.
    expect(all).toEqual(ids.slice(1, 11));
    expect(rest.page?.nextPageToken).toBe('');
  });

  it('finds Tareas by DNI, by alumno name and by error text', async () => {
    const byDni = await client.listTareas({ filter: { search: '40123452' } });
    expect(byDni.tareas.map((t) => t.alumnoId)).toEqual(['alu-2']);
    expect((await client.listTareas({ filter: { search: 'juan 4' } })).tareas).toHaveLength(1);
    const byError = await client.listTareas({ filter: { search: 'licencias a1' } });
    expect(byError.tareas.map((t) => t.alumnoId)).toEqual(['alu-3']);
  });

  it('rejects a malformed page token with a field violation', async () => {
    const err = (await client
      .listTareas({ page: { pageToken: 'not-a-token' } })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.violations[0]?.field).toBe('page.pageToken');
  });

  it('summarises the dashboard from the counters: 24 h figures, the 10 newest and the chart', async () => {
    const d = await client.getDashboard({ days: 14 });
    expect(d.pendientes).toBe(1n);
    expect(d.ejecutando).toBe(1n);
    // Within 24 h: 3 identity + 1 ingestion completed; 3 identity + 2 ingestions failed (the ingestion of 25 h
    // ago and last week's are out).
    expect(d.completadas24h).toBe(4n);
    expect(d.fallidas24h).toBe(5n);
    expect(d.recientes.map((t) => t.id)).toEqual(ids.slice(0, 10));
    const total = d.porDia.reduce((n, p) => n + p.count, 0n);
    expect(total).toBe(BigInt(ids.length));
    expect(d.porDia.every((p) => /^\d{4}-\d{2}-\d{2}$/.test(p.day))).toBe(true);
  });

  it('refuses a chart longer than 90 days', async () => {
    const err = (await client.getDashboard({ days: 91 }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.violations[0]?.field).toBe('days');
  });
});
