import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  counterDeltas,
  sameTarea,
  STUCK_MESSAGE,
  type TareaEvent,
  type TareaState,
} from './projection.js';

const ID = '01900000-0000-7000-8000-000000000001';
const t = (s: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, s));

const published = (): TareaEvent => ({
  kind: 'published',
  taskId: ID,
  at: t(0),
  tipo: 'mantenimiento',
  subject: 'lucy.cmd.tracker.purgar_tareas',
  parametros: { retentionDays: 30 },
  payload: new Uint8Array([8, 30]),
  contentType: 'application/protobuf',
  taskName: 'mantenimiento.tasks.purgar_tareas_antiguas',
  trigger: 'admin',
  requestedBy: 'ana',
});
const started = (attempt = 1, s = 1): TareaEvent => ({
  kind: 'started',
  taskId: ID,
  at: t(s),
  attempt,
  taskName: 'x.y',
  trigger: 'schedule',
  requestedBy: 'beat',
});
const succeeded = (attempt = 1, s = 5): TareaEvent => ({
  kind: 'succeeded',
  taskId: ID,
  at: t(s),
  attempt,
  cantidadEntidades: 3,
  detalles: { ok: true },
});
const failed = (attempt = 1, willRetry = false, s = 4): TareaEvent => ({
  kind: 'failed',
  taskId: ID,
  at: t(s),
  attempt,
  mensajeError: 'SIAL no responde',
  willRetry,
  errorCode: 'SIAL',
  detalles: null,
});
const fold = (events: TareaEvent[], from?: TareaState) =>
  events.reduce<TareaState | undefined>((s, e) => applyEvent(s, e), from)!;

describe('tarea projection', () => {
  it('creates a pending Tarea from the command with its context', () => {
    const s = fold([published()]);
    expect(s).toMatchObject({
      estado: 'pending',
      tipo: 'mantenimiento',
      trigger: 'admin',
      requestedBy: 'ana',
      commandSeen: true,
    });
  });

  it('goes pending → running → completed with duration', () => {
    const s = fold([published(), started(), succeeded()]);
    expect(s).toMatchObject({
      estado: 'completed',
      attempts: 1,
      cantidadEntidades: 3,
      durationMs: 4000,
      detalles: { ok: true },
    });
  });

  it('treats an event seen twice as a no-op', () => {
    const once = fold([published(), started(), succeeded()]);
    const twice = fold([published(), published(), started(), started(), succeeded(), succeeded()]);
    expect(sameTarea(once, twice)).toBe(true);
    expect(applyEvent(once, succeeded())).toEqual(once);
  });

  it('accepts started before the command and fills the command fields later', () => {
    const s = fold([started(), published()]);
    expect(s).toMatchObject({
      estado: 'running',
      tipo: 'mantenimiento',
      trigger: 'admin',
      requestedBy: 'ana',
      scheduledAt: t(0),
    });
    expect(s.parametros).toEqual({ retentionDays: 30 });
  });

  it('does not reopen a Tarea when a late started of the same attempt arrives after succeeded', () => {
    const s = fold([published(), succeeded(1, 5), started(1, 1)]);
    expect(s.estado).toBe('completed');
    expect(s.durationMs).toBe(4000);
  });

  it("starts at its first attempt's start and lasts across every attempt and the waits between them", () => {
    // Attempt 1 from 1 s to 4 s, attempt 2 from 20 s to 25 s, attempt 3 from 40 s to 47 s (the last failure).
    const history = [
      published(),
      started(1, 1),
      failed(1, true, 4),
      started(2, 20),
      failed(2, true, 25),
      started(3, 40),
      failed(3, false, 47),
    ];
    const s = fold(history);
    expect(s).toMatchObject({ estado: 'failed', attempts: 3, startedAt: t(1), durationMs: 46_000 });
    // The same whatever the arrival order.
    expect(fold([...history].reverse())).toMatchObject({ startedAt: t(1), durationMs: 46_000 });
    // Running again: the start stays the first attempt's.
    expect(fold(history.slice(0, 4))).toMatchObject({ estado: 'running', startedAt: t(1), durationMs: 0 });
  });

  it('ends completed when attempt 2 succeeds after attempt 1 failed, in any order', () => {
    for (const willRetry of [true, false]) {
      expect(
        fold([published(), started(1), failed(1, willRetry), started(2, 6), succeeded(2, 9)]).estado,
      ).toBe('completed');
      expect(
        fold([published(), succeeded(2, 9), failed(1, willRetry), started(1), started(2, 6)]).estado,
      ).toBe('completed');
    }
  });

  it('waits as pending after a failure the worker will retry, and fails on a final one', () => {
    expect(fold([published(), started(), failed(1, true)]).estado).toBe('pending');
    const f = fold([published(), started(), failed(1, false)]);
    expect(f).toMatchObject({ estado: 'failed', mensajeError: 'SIAL no responde', errorCode: 'SIAL' });
  });

  it('keeps a cancelled Tarea cancelled unless a later attempt proves it ran', () => {
    const cancelled = fold([published(), { kind: 'cancelled', taskId: ID, at: t(2), by: 'ana' }]);
    expect(cancelled.estado).toBe('cancelled');
    const skippedByWorker: TareaEvent = {
      kind: 'skipped',
      taskId: ID,
      at: t(3),
      attempt: 1,
      reason: 'Tarea cancelada',
      detalles: { cancelada: true },
    };
    expect(applyEvent(cancelled, skippedByWorker).estado).toBe('cancelled');
    expect(applyEvent(cancelled, started(1, 3)).estado).toBe('running');
    const done = fold([published(), started(), succeeded()]);
    expect(applyEvent(done, { kind: 'cancelled', taskId: ID, at: t(9), by: 'ana' }).estado).toBe('cancelled');
  });

  it('marks a running Tarea stuck but lets the real outcome of that attempt win', () => {
    const running = fold([published(), started()]);
    const stuck = applyEvent(running, { kind: 'stuck', taskId: ID, at: t(30), cutoff: t(20) });
    expect(stuck).toMatchObject({ estado: 'failed', mensajeError: STUCK_MESSAGE });
    expect(applyEvent(stuck, succeeded(1, 40)).estado).toBe('completed');
    expect(applyEvent(running, { kind: 'stuck', taskId: ID, at: t(30), cutoff: t(0) }).estado).toBe(
      'running',
    );
    expect(
      applyEvent(fold([published()]), { kind: 'stuck', taskId: ID, at: t(30), cutoff: t(20) }).estado,
    ).toBe('pending');
  });

  it('marks pending or running Tareas failed by staff with a message', () => {
    const s = applyEvent(fold([published(), started()]), {
      kind: 'marked_failed',
      taskId: ID,
      at: t(9),
      by: 'ana',
      mensaje: 'x',
    });
    expect(s).toMatchObject({ estado: 'failed', mensajeError: 'x' });
    expect(applyEvent(s, started(1, 10)).estado).toBe('failed');
  });

  it('records skipped runs with the reason', () => {
    const s = applyEvent(fold([published()]), {
      kind: 'skipped',
      taskId: ID,
      at: t(1),
      attempt: 1,
      reason: 'Fuera de la ventana',
      detalles: null,
    });
    expect(s).toMatchObject({ estado: 'skipped', detalles: { motivo: 'Fuera de la ventana' } });
  });

  it('moves heartbeats and progress forward only', () => {
    const s = fold([
      published(),
      started(),
      { kind: 'progress', taskId: ID, at: t(3), attempt: 1, heartbeat: false, done: 5, total: 10 },
    ]);
    const late = applyEvent(s, {
      kind: 'progress',
      taskId: ID,
      at: t(2),
      attempt: 1,
      heartbeat: false,
      done: 2,
      total: 10,
    });
    expect(late).toMatchObject({ progressDone: 5, lastHeartbeatAt: t(3), estado: 'running' });
  });

  it('computes counter deltas for an estado change and none for a no-op', () => {
    const p = fold([published()]);
    const r = applyEvent(p, started());
    expect(counterDeltas(undefined, p)).toEqual([
      { hour: '2026-11-28T12:00:00.000Z', estado: 'pending', delta: 1 },
    ]);
    expect(counterDeltas(p, r)).toEqual([
      { hour: '2026-11-28T12:00:00.000Z', estado: 'pending', delta: -1 },
      { hour: '2026-11-28T12:00:00.000Z', estado: 'running', delta: 1 },
    ]);
    expect(counterDeltas(r, r)).toEqual([]);
  });
});
