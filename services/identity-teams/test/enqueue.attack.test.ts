/**
 * Attacks on Enqueue's request-derived idempotency (real NATS and Postgres): what must be de-duplicated (a retry,
 * two identical requests at once) and what must not (the same alumnos with another task or flag, an idempotency key
 * reused for another request, the same request once LUCY_CMD's duplicate window has passed).
 */
import { fromBinary } from '@bufbuild/protobuf';
import { ActivarServiciosCommandSchema, CrearUsuarioTeamsCommandSchema, type Alumno } from '@lucy/proto';
import { readStream } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_KEY_HEADER } from '../src/rpc/identity.rpc.js';
import { startHarness, type Harness } from './harness.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const CREAR = 'alumnos.tasks.crear_usuario_teams_async';
const ACTIVAR_SUBJECT = 'lucy.cmd.identity.activar_servicios';
const CREAR_SUBJECT = 'lucy.cmd.identity.crear_usuario_teams';

describe('Enqueue attacks: request-derived Nats-Msg-Id', () => {
  let h: Harness;
  let pool: Alumno[];
  const take = (n: number): string[] => {
    if (pool.length < n) throw new Error('no alumnos left');
    return pool.splice(0, n).map((a) => a.id);
  };
  /** Commands stored in LUCY_CMD on `subject`, per alumno, with their `forzar`. */
  const stored = async (subject: string): Promise<Map<string, boolean[]>> => {
    const msgs = await readStream(h.t.handles, h.t.names.streams.cmd, h.t.names.full(subject));
    const byAlumno = new Map<string, boolean[]>();
    for (const m of msgs) {
      const c =
        subject === ACTIVAR_SUBJECT
          ? fromBinary(ActivarServiciosCommandSchema, m.data)
          : fromBinary(CrearUsuarioTeamsCommandSchema, m.data);
      byAlumno.set(c.alumnoId, [...(byAlumno.get(c.alumnoId) ?? []), c.forzar]);
    }
    return byAlumno;
  };
  const withKey = (key: string) => ({ headers: { [IDEMPOTENCY_KEY_HEADER]: key } });

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_enqueue_attack', aspirantes: 16 });
    pool = h.alumnos.filter((a) => a.emailPersonal !== '');
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('an idempotency key reused with another flag is not taken for a retry of the first request', async () => {
    const [a] = take(1) as [string];
    const first = await h.identity.enqueue(
      { alumnoIds: [a], taskName: ACTIVAR, requestedBy: 'ana', forzar: false },
      withKey('reused-key'),
    );
    const second = await h.identity.enqueue(
      { alumnoIds: [a], taskName: ACTIVAR, requestedBy: 'ana', forzar: true },
      withKey('reused-key'),
    );
    expect(first.resultados[0]!.estado).toBe('programada');
    expect(second.resultados[0]!.estado).toBe('programada');
    // forzar: true asks for something the first command does not do: it must be queued, not dropped as a duplicate.
    expect(second.resultados[0]!.motivo).toBe('');
    expect(second.taskIds[0]).not.toBe(first.taskIds[0]);
    expect((await stored(ACTIVAR_SUBJECT)).get(a)).toEqual([false, true]);
    await h.waitAll([first.taskIds[0]!, second.taskIds[0]!]);
  }, 120_000);

  it('without a key: the same alumnos with another flag or another task are other requests', async () => {
    const [a, b] = take(2) as [string, string];
    const base = { alumnoIds: [a, b], requestedBy: 'ana' };
    const r1 = await h.identity.enqueue({ ...base, taskName: ACTIVAR, forzar: false });
    const r2 = await h.identity.enqueue({ ...base, taskName: ACTIVAR, forzar: true });
    const r3 = await h.identity.enqueue({ ...base, taskName: CREAR, forzar: true });
    const all = [...r1.taskIds, ...r2.taskIds, ...r3.taskIds];
    expect(new Set(all).size).toBe(6);
    for (const r of [r1, r2, r3])
      for (const x of r.resultados) expect([x.estado, x.motivo]).toEqual(['programada', '']);
    const activar = await stored(ACTIVAR_SUBJECT);
    expect([activar.get(a), activar.get(b)]).toEqual([
      [false, true],
      [false, true],
    ]);
    const crear = await stored(CREAR_SUBJECT);
    expect([crear.get(a)?.length, crear.get(b)?.length]).toEqual([1, 1]);
    await h.waitAll(all);
  }, 120_000);

  it('two identical requests at once: each alumno stored once, both answers name the same Tareas', async () => {
    const ids = take(3);
    const req = { alumnoIds: ids, taskName: ACTIVAR, requestedBy: 'bruno' };
    const [x, y] = await Promise.all([h.identity.enqueue(req), h.identity.enqueue(req)]);
    expect(y.taskIds).toEqual(x.taskIds);
    expect(x.taskIds.every((t) => t !== '')).toBe(true);
    const counts = await stored(ACTIVAR_SUBJECT);
    expect(ids.map((id) => counts.get(id)?.length)).toEqual([1, 1, 1]);
    await h.waitAll(x.taskIds);
  }, 120_000);

  it('the same request once the duplicate window has passed is a new request', async () => {
    const [a] = take(1) as [string];
    const jsm = await h.t.handles.js.jetstreamManager();
    const name = h.t.names.streams.cmd;
    const info = await jsm.streams.info(name);
    // The 10-minute window shortened to 1 s for the test (the stream's own setting; nothing else changes).
    await jsm.streams.update(name, { ...info.config, duplicate_window: 1_000_000_000 });
    const req = { alumnoIds: [a], taskName: ACTIVAR, requestedBy: 'carla', forzar: true };
    const first = await h.identity.enqueue(req);
    const within = await h.identity.enqueue(req);
    expect(within.taskIds).toEqual(first.taskIds);
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await h.identity.enqueue(req);
    expect(after.resultados[0]!.estado).toBe('programada');
    expect(after.resultados[0]!.motivo).toBe('');
    expect(after.taskIds[0]).not.toBe(first.taskIds[0]);
    expect((await stored(ACTIVAR_SUBJECT)).get(a)?.length).toBe(2);
    await h.waitAll([first.taskIds[0]!, after.taskIds[0]!]);
  }, 120_000);
});
