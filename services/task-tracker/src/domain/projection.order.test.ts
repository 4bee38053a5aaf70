import { describe, expect, it } from 'vitest';
import { applyEvent, type TareaEvent, type TareaState } from './projection.js';

const ID = '01900000-0000-7000-8000-0000000000aa';
const t = (s: number) => new Date(Date.UTC(2026, 11, 7, 12, 0, s));
const ctx = { taskName: 'alumnos.tasks.crear_usuario_teams_async', trigger: 'admin', requestedBy: 'ana' };

const published: TareaEvent = {
  kind: 'published',
  taskId: ID,
  at: t(0),
  tipo: 'cuenta',
  subject: 'lucy.cmd.identity.crear_usuario_teams',
  alumnoId: 'alu-1',
  parametros: { alumnoId: 'alu-1' },
  payload: new Uint8Array([10, 5]),
  contentType: 'application/protobuf',
  ...ctx,
};
const started = (attempt: number, s: number): TareaEvent => ({
  kind: 'started',
  taskId: ID,
  at: t(s),
  attempt,
  alumnoId: 'alu-1',
  ...ctx,
});
const progress = (attempt: number, s: number, done: number, heartbeat = false): TareaEvent => ({
  kind: 'progress',
  taskId: ID,
  at: t(s),
  attempt,
  heartbeat,
  done: heartbeat ? 0 : done,
  total: heartbeat ? 0 : 10,
  ...ctx,
});
const failed = (attempt: number, s: number, willRetry: boolean): TareaEvent => ({
  kind: 'failed',
  taskId: ID,
  at: t(s),
  attempt,
  mensajeError: 'Graph no responde',
  willRetry,
  errorCode: 'TRANSIENT',
  detalles: { intento: attempt },
  ...ctx,
});
const succeeded = (attempt: number, s: number): TareaEvent => ({
  kind: 'succeeded',
  taskId: ID,
  at: t(s),
  attempt,
  cantidadEntidades: 2,
  detalles: { upn: 'x@fce' },
  ...ctx,
});

/** Histories a worker really produces for one Tarea, in publication order. */
const HISTORIES: Record<string, TareaEvent[]> = {
  'a retried task that succeeds on attempt 2': [
    published,
    started(1, 1),
    progress(1, 2, 5),
    progress(1, 3, 0, true),
    progress(1, 4, 8),
    failed(1, 5, true),
    started(2, 6),
    progress(2, 7, 0, true),
    progress(2, 8, 3),
    succeeded(2, 20),
  ],
  'a task that fails for good': [published, started(1, 1), progress(1, 2, 4), failed(1, 9, false)],
  'a task run twice in one attempt (handed back at shutdown)': [
    published,
    started(1, 1),
    progress(1, 2, 2),
    started(1, 4),
    progress(1, 5, 1),
    progress(1, 5, 6),
    succeeded(1, 30),
  ],
  'a task still running on attempt 2': [
    published,
    started(1, 1),
    progress(1, 3, 9),
    failed(1, 4, true),
    started(2, 10),
    progress(2, 11, 0, true),
  ],
};

/** A small seeded PRNG (mulberry32), so a failing permutation can be reproduced from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random permutation of the events with random duplicates mixed in. */
export function shuffleWithDuplicates<T>(events: readonly T[], random: () => number): T[] {
  const out = [...events];
  const dups = Math.floor(random() * events.length);
  for (let i = 0; i < dups; i++) out.push(events[Math.floor(random() * events.length)]!);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const fold = (events: readonly TareaEvent[]) =>
  events.reduce<TareaState | undefined>((s, e) => applyEvent(s, e), undefined)!;

describe('tarea projection is order-independent', () => {
  for (const [name, history] of Object.entries(HISTORIES)) {
    it(`reaches the same row from 500 permutations with duplicates: ${name}`, () => {
      const expected = fold(history);
      for (let seed = 1; seed <= 500; seed++) {
        const order = shuffleWithDuplicates(history, prng(seed));
        const got = fold(order);
        expect({ seed, row: got }).toEqual({ seed, row: expected });
      }
    });
  }

  it('keeps the start time of the earliest started when a started arrives after a progress', () => {
    const inOrder = fold([published, started(1, 1), progress(1, 10, 5), succeeded(1, 21)]);
    const late = fold([published, progress(1, 10, 5), started(1, 1), succeeded(1, 21)]);
    expect(late.startedAt).toEqual(t(1));
    expect(late.durationMs).toBe(20_000);
    expect(late).toEqual(inOrder);
  });

  it('never shows the progress of an older attempt', () => {
    const s = fold([started(2, 10), progress(1, 5, 9), progress(1, 6, 9)]);
    // The Tarea's start is still its first attempt's.
    expect(s).toMatchObject({ progressDone: 0, progressTotal: 0, startedAttempt: 2, startedAt: t(5) });
    const after = fold([progress(1, 5, 9), started(2, 10)]);
    expect(after).toMatchObject({ progressDone: 0, progressTotal: 0 });
  });

  it('shows the latest progress report of the current attempt even when a later heartbeat came first', () => {
    const s = fold([started(1, 1), progress(1, 9, 0, true), progress(1, 4, 6)]);
    expect(s).toMatchObject({ progressDone: 6, lastHeartbeatAt: t(9) });
  });
});
