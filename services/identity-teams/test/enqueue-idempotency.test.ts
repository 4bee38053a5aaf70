/**
 * IdentityService.Enqueue against the real NATS and Postgres: each command's Nats-Msg-Id comes from the request
 * (a client's idempotency key, or the request itself), so a retried request never queues an alumno twice, and a
 * request whose publishes fail in part answers per alumno which ones were queued.
 */
import { Code, type ConnectError } from '@connectrpc/connect';
import { fromBinary } from '@bufbuild/protobuf';
import { ActivarServiciosCommandSchema, EnqueueRequestSchema, type Alumno } from '@lucy/proto';
import { create } from '@bufbuild/protobuf';
import { readStream } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueKey, enqueueMsgId, IDEMPOTENCY_KEY_HEADER } from '../src/rpc/identity.rpc.js';
import { startHarness, type Harness } from './harness.js';
import { rejectionOf } from './support.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';
const ACTIVAR_SUBJECT = 'lucy.cmd.identity.activar_servicios';

describe('Enqueue: idempotent per alumno, per-alumno results on partial failure', () => {
  let h: Harness;
  let pool: Alumno[];
  const take = (n: number): Alumno[] => {
    if (pool.length < n) throw new Error('no alumnos left');
    return pool.splice(0, n);
  };
  /** The activation commands stored in LUCY_CMD, by alumno. */
  const storedByAlumno = async (): Promise<Map<string, number>> => {
    const stored = await readStream(h.t.handles, h.t.names.streams.cmd, h.t.names.full(ACTIVAR_SUBJECT));
    const counts = new Map<string, number>();
    for (const m of stored) {
      const id = fromBinary(ActivarServiciosCommandSchema, m.data).alumnoId;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  };
  const request = (ids: string[]) => ({ alumnoIds: ids, taskName: ACTIVAR, requestedBy: 'ana' });
  const withKey = (key: string) => ({ headers: { [IDEMPOTENCY_KEY_HEADER]: key } });

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_enqueue', aspirantes: 16 });
    pool = h.alumnos.filter((a) => a.emailPersonal !== '');
  }, 120_000);

  afterAll(async () => {
    await h?.stop();
  });

  it('a retry with the same idempotency key queues nothing twice and answers the same Tareas', async () => {
    const ids = take(3).map((a) => a.id);
    const first = await h.identity.enqueue(request(ids), withKey('click-1'));
    expect(first.resultados.map((r) => r.estado)).toEqual(['programada', 'programada', 'programada']);
    expect(first.resultados.every((r) => r.motivo === '')).toBe(true);
    const retry = await h.identity.enqueue(request(ids), withKey('click-1'));
    expect(retry.taskIds).toEqual(first.taskIds);
    expect(retry.resultados.map((r) => r.estado)).toEqual(['programada', 'programada', 'programada']);
    for (const r of retry.resultados) expect(r.motivo).toContain('no se encoló de nuevo');
    // Another key is another request: queued again (the worker then skips or redoes nothing, per alumno).
    const other = await h.identity.enqueue(request(ids.slice(0, 1)), withKey('click-2'));
    expect(other.taskIds[0]).not.toBe(first.taskIds[0]);
    const counts = await storedByAlumno();
    expect(ids.map((id) => counts.get(id))).toEqual([2, 1, 1]);
    await h.waitAll([...first.taskIds, other.taskIds[0]!]);
  }, 120_000);

  it('without a key, the same request repeated is a retry of it; another selection is not', async () => {
    const ids = take(2).map((a) => a.id);
    const first = await h.identity.enqueue(request(ids));
    const again = await h.identity.enqueue(request([...ids].reverse()));
    expect(again.taskIds).toEqual([...first.taskIds].reverse());
    const counts = await storedByAlumno();
    expect(ids.map((id) => counts.get(id))).toEqual([1, 1]);
    await h.waitAll(first.taskIds);
  }, 120_000);

  it('some publishes refused: the answer says per alumno which were queued, and a retry queues none twice', async () => {
    const [a, b, c] = take(3).map((x) => x.id) as [string, string, string];
    const key = 'click-partial';
    // The command of b cannot be stored: its Nats-Msg-Id and every alternative the publisher tries are taken by
    // messages on another subject (what a system allowed to publish commands could do), so JetStream refuses it.
    const base = enqueueMsgId(enqueueKey(create(EnqueueRequestSchema, request([a, b, c])), key), b);
    const full = h.t.names.full(ACTIVAR_SUBJECT);
    for (const id of [base, `${base}@${full}`, `${base}@${full}#2`, `${base}@${full}#3`, `${base}@${full}#4`])
      await h.t.handles.js.publish(h.t.names.full('lucy.cmd.poison.nada'), new Uint8Array([1]), {
        msgID: id,
      });

    const first = await h.identity.enqueue(request([a, b, c]), withKey(key));
    expect(first.resultados.map((r) => r.estado)).toEqual(['programada', 'rechazado', 'programada']);
    expect(first.resultados[1]!.motivo).toContain('No se pudo encolar');
    expect(first.resultados[1]!.motivo).toContain('las ya programadas no se repiten');
    expect(first.taskIds[1]).toBe('');

    const retry = await h.identity.enqueue(request([a, b, c]), withKey(key));
    expect(retry.resultados.map((r) => r.estado)).toEqual(['programada', 'rechazado', 'programada']);
    expect([retry.taskIds[0], retry.taskIds[2]]).toEqual([first.taskIds[0], first.taskIds[2]]);
    const counts = await storedByAlumno();
    expect([a, b, c].map((id) => counts.get(id))).toEqual([1, undefined, 1]);

    // Nothing of a request stored: an error to retry, not an answer of failures.
    const none = await rejectionOf(h.identity.enqueue(request([a, b, c].slice(1, 2)), withKey(key)));
    expect((none as ConnectError).code).toBe(Code.Unavailable);
    await h.waitAll([first.taskIds[0]!, first.taskIds[2]!]);
  }, 120_000);
});
