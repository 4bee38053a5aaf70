import { describe, expect, it } from 'vitest';
import { applyEvent, type TareaEvent, type TareaState } from './projection.js';

const ID = '0190d000-0000-7000-8000-000000000001';
const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 10, 0, s));
const ctx = { taskName: 'alumnos.tasks.crear_usuario_teams_async', trigger: 'admin', requestedBy: 'ana' };

/** Every worker fact of a task that ran three attempts (two runs of the first), and its three possible ends. */
const POOL: TareaEvent[] = [
  {
    kind: 'published',
    taskId: ID,
    at: at(0),
    tipo: 'cuenta',
    subject: 'lucy.cmd.identity.crear_usuario_teams',
    parametros: {},
    payload: new Uint8Array([1]),
    contentType: 'application/protobuf',
    ...ctx,
  },
  { kind: 'started', taskId: ID, at: at(1), attempt: 1, ...ctx },
  { kind: 'started', taskId: ID, at: at(2), attempt: 1, ...ctx },
  { kind: 'progress', taskId: ID, at: at(3), attempt: 1, heartbeat: false, done: 3, total: 9, ...ctx },
  { kind: 'progress', taskId: ID, at: at(3), attempt: 1, heartbeat: false, done: 5, total: 9, ...ctx },
  { kind: 'progress', taskId: ID, at: at(4), attempt: 1, heartbeat: true, done: 0, total: 0, ...ctx },
  {
    kind: 'failed',
    taskId: ID,
    at: at(5),
    attempt: 1,
    mensajeError: 'a',
    willRetry: true,
    errorCode: 'T',
    detalles: { d: 1 },
    ...ctx,
  },
  { kind: 'started', taskId: ID, at: at(6), attempt: 2, ...ctx },
  { kind: 'progress', taskId: ID, at: at(7), attempt: 2, heartbeat: false, done: 1, total: 9, ...ctx },
  {
    kind: 'failed',
    taskId: ID,
    at: at(8),
    attempt: 2,
    mensajeError: 'b',
    willRetry: true,
    errorCode: '',
    detalles: null,
    ...ctx,
  },
  { kind: 'started', taskId: ID, at: at(9), attempt: 3, ...ctx },
  { kind: 'succeeded', taskId: ID, at: at(12), attempt: 3, cantidadEntidades: 2, detalles: null, ...ctx },
  {
    kind: 'failed',
    taskId: ID,
    at: at(12),
    attempt: 3,
    mensajeError: 'c',
    willRetry: false,
    errorCode: 'P',
    detalles: null,
    ...ctx,
  },
  { kind: 'skipped', taskId: ID, at: at(12), attempt: 3, reason: 'r', detalles: null, ...ctx },
];

const fold = (events: TareaEvent[]) =>
  events.reduce<TareaState | undefined>((s, e) => applyEvent(s, e), undefined)!;
const stored = (s: TareaState) => JSON.stringify({ ...s, payload: s.payload ? [...s.payload] : null });

describe('tarea projection over random histories', () => {
  it('reaches the same row from every arrival order of any subset of a task’s facts, with duplicates', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let history = 0; history < 400; history++) {
      // A consistent story: any subset of the facts before the end (the command may be missing), one end.
      const end = 11 + Math.floor(random() * 3);
      const facts = POOL.filter((_, i) => (i < 11 ? random() < 0.8 : i === end));
      const expected = stored(fold(facts));
      for (let p = 0; p < 10; p++) {
        const order = [...facts, ...facts.filter(() => random() < 0.2)];
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        expect(stored(fold(order))).toBe(expected);
      }
    }
  });
});
