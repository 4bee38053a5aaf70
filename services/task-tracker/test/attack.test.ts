import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '@lucy/platform';
import { projectBatch } from '../src/db/tarea.repository.js';
import type { TareaEvent } from '../src/domain/projection.js';
import { rows, startHarness, type TrackerHarness } from './helpers.js';

/** Attacks on the projection's order independence (issue 24, item 8), against the real Postgres. */
describe('projection under attack: arrival orders the permutation test did not try', () => {
  let h: TrackerHarness;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s));
  const ctx = {
    taskName: 'alumnos.tasks.crear_usuario_teams_async',
    trigger: 'admin',
    requestedBy: 'ana@fce',
  };

  /** Projects `events` one batch each, in the given order, into a Tarea of its own; returns the row. */
  async function project(order: number[], history: (id: string) => TareaEvent[]) {
    const id = uuidv7();
    const events = history(id);
    for (const i of order) await projectBatch(h.tracker.knex, [{ seq: 1, event: events[i]! }]);
    const [row] = await rows<Record<string, unknown>>(h, `select * from tracker.tarea where id = ?`, [id]);
    const { id: _id, updated_at: _u, ...rest } = row!;
    return rest;
  }

  it('does not show an earlier attempt’s failure details on a final failure whose start arrives after it', async () => {
    const history = (taskId: string): TareaEvent[] => [
      { kind: 'started', taskId, at: at(1), attempt: 1, ...ctx },
      {
        kind: 'failed',
        taskId,
        at: at(5),
        attempt: 1,
        mensajeError: 'Graph no responde',
        willRetry: true,
        errorCode: 'T',
        detalles: { intento: 1 },
        ...ctx,
      },
      { kind: 'started', taskId, at: at(9), attempt: 2, ...ctx },
      {
        kind: 'failed',
        taskId,
        at: at(12),
        attempt: 2,
        mensajeError: 'Cuenta inexistente',
        willRetry: false,
        errorCode: 'P',
        detalles: null,
        ...ctx,
      },
    ];
    const inOrder = await project([0, 1, 2, 3], history);
    const lateStart = await project([0, 1, 3, 2], history);
    expect(inOrder).toMatchObject({ estado: 'failed', detalles: null, mensaje_error: 'Cuenta inexistente' });
    expect(lateStart).toEqual(inOrder);
  });

  it('gives a Tarea whose command was never seen the same scheduled time whatever event arrives first', async () => {
    const history = (taskId: string): TareaEvent[] => [
      { kind: 'started', taskId, at: at(1), attempt: 1, ...ctx },
      { kind: 'progress', taskId, at: at(3), attempt: 1, heartbeat: false, done: 2, total: 4, ...ctx },
      { kind: 'succeeded', taskId, at: at(6), attempt: 1, cantidadEntidades: 1, detalles: null, ...ctx },
    ];
    const inOrder = await project([0, 1, 2], history);
    const reversed = await project([2, 1, 0], history);
    expect(new Date(String(inOrder.scheduled_at)).getTime()).toBe(at(1).getTime());
    expect(reversed).toEqual(inOrder);
  });
});
