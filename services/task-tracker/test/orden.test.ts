/**
 * ListTareas sorted by each column (`orden`), both directions, paged with the keyset token: every row exactly
 * once, in the order the column (then scheduled time, then id) gives — with ties and empty values on purpose —
 * also combined with several tipos and several estados at once.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { createRpcClient } from '@lucy/platform';
import { TareaEstado, TareaOrden, TaskService, TareaTipo } from '@lucy/proto';
import { TEST_TOKEN } from '@lucy/testkit';
import { startHarness, type TrackerHarness } from './helpers.js';

interface Row {
  id: string;
  tipo: string | null;
  estado: string;
  scheduledAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number;
}

const TIPOS = ['ingesta_aspirantes', 'crear_usuario_teams', 'enviar_email', null] as const;
const ESTADOS = ['pending', 'running', 'completed', 'failed'] as const;
const BASE = Date.parse('2026-12-01T12:00:00.000Z');

describe('ListTareas orden', () => {
  let h: TrackerHarness;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  const data: Row[] = [];

  beforeAll(async () => {
    h = await startHarness();
    tasks = createRpcClient(TaskService, { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN });
    for (let i = 0; i < 45; i++) {
      const estado = ESTADOS[i % 4]!;
      // Scheduled times repeat every 9 rows (ties broken by id); started/finished empty for pending ones.
      const scheduledAt = new Date(BASE + (i % 9) * 60_000);
      const startedAt = estado === 'pending' ? null : new Date(BASE + ((i * 7) % 11) * 1000);
      const finishedAt =
        estado === 'completed' || estado === 'failed' ? new Date(BASE + ((i * 5) % 13) * 1000) : null;
      data.push({
        id: randomUUID(),
        tipo: TIPOS[i % 4 === 0 ? i % 3 : (i * 3) % 4] ?? null,
        estado,
        scheduledAt,
        startedAt,
        finishedAt,
        durationMs: (i * 13) % 5 === 0 ? 0 : ((i * 13) % 5) * 1000,
      });
    }
    for (const r of data)
      await h.tracker.knex.raw(
        `insert into tracker.tarea (id, tipo, estado, scheduled_at, started_at, finished_at, duration_ms, version)
         values (?::uuid, ?, ?, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?, 1)`,
        [
          r.id,
          r.tipo,
          r.estado,
          r.scheduledAt.toISOString(),
          r.startedAt?.toISOString() ?? null,
          r.finishedAt?.toISOString() ?? null,
          r.durationMs,
        ],
      );
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  /** Every page of `req` (page size 4), concatenated. */
  async function allPages(req: {
    orden?: TareaOrden;
    oldestFirst?: boolean;
    filter?: { tipos?: TareaTipo[]; estados?: TareaEstado[] };
  }): Promise<string[]> {
    const ids: string[] = [];
    let pageToken = '';
    for (let n = 0; n < 100; n++) {
      const res = await tasks.listTareas({ ...req, page: { pageSize: 4, pageToken } });
      ids.push(...res.tareas.map((t) => t.id));
      pageToken = res.page?.nextPageToken ?? '';
      if (!pageToken) return ids;
    }
    throw new Error('paging never ended');
  }

  const t = (d: Date | null) => (d ? d.getTime() : -Infinity);
  const KEYS: Array<[TareaOrden, (r: Row) => number | string]> = [
    [TareaOrden.UNSPECIFIED, () => 0],
    [TareaOrden.PROGRAMADA, () => 0],
    [TareaOrden.INICIADA, (r) => t(r.startedAt)],
    [TareaOrden.FINALIZADA, (r) => t(r.finishedAt)],
    [TareaOrden.TIPO, (r) => r.tipo ?? ''],
    [TareaOrden.ESTADO, (r) => r.estado],
    [TareaOrden.DURACION, (r) => r.durationMs],
  ];
  const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
  // Postgres compares uuids bytewise, which for the hex text form is the same as comparing the lowercase strings.
  function expected(rows: Row[], key: (r: Row) => number | string, asc: boolean): string[] {
    const sorted = [...rows].sort(
      (a, b) =>
        cmp(key(a), key(b)) || cmp(a.scheduledAt.getTime(), b.scheduledAt.getTime()) || cmp(a.id, b.id),
    );
    return (asc ? sorted : sorted.reverse()).map((r) => r.id);
  }

  it('pages through every sort column in both directions, each row once, in order', async () => {
    for (const [orden, key] of KEYS)
      for (const oldestFirst of [false, true]) {
        const got = await allPages({ orden, oldestFirst });
        expect({ orden, oldestFirst, got }).toEqual({
          orden,
          oldestFirst,
          got: expected(data, key, oldestFirst),
        });
      }
  }, 120_000);

  it('sorts and pages with several tipos and several estados selected at once', async () => {
    const filter = {
      tipos: [TareaTipo.INGESTA_ASPIRANTES, TareaTipo.ENVIAR_EMAIL],
      estados: [TareaEstado.COMPLETED, TareaEstado.FAILED, TareaEstado.RUNNING],
    };
    const subset = data.filter(
      (r) =>
        (r.tipo === 'ingesta_aspirantes' || r.tipo === 'enviar_email') &&
        ['completed', 'failed', 'running'].includes(r.estado),
    );
    expect(subset.length).toBeGreaterThan(5);
    for (const [orden, key] of KEYS.slice(2)) {
      const got = await allPages({ filter, orden, oldestFirst: false });
      expect(got).toEqual(expected(subset, key, false));
    }
  }, 120_000);

  it('refuses a page token of another sort, or with a forged key, naming the field', async () => {
    const first = await tasks.listTareas({ orden: TareaOrden.DURACION, page: { pageSize: 3 } });
    const token = first.page!.nextPageToken;
    expect(token).not.toBe('');
    const forged = Buffer.from(
      JSON.stringify(['2026-12-01T12:00:00.000Z', randomUUID(), "1'; drop table x", TareaOrden.DURACION]),
    ).toString('base64url');
    for (const req of [
      { orden: TareaOrden.TIPO, page: { pageToken: token } },
      { page: { pageToken: token } },
      { orden: TareaOrden.DURACION, page: { pageToken: forged } },
    ]) {
      const err = await tasks.listTareas(req).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.InvalidArgument);
      expect(err?.rawMessage).toContain('token de página');
    }
  }, 60_000);
});
