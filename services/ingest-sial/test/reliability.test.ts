import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, ValueSchema } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectError } from '@connectrpc/connect';
import { H } from '@lucy/platform';
import { AlumnoDeletedSchema, AlumnoUpdatedSchema, Estado, TipoIngesta } from '@lucy/proto';
import { readStream } from '@lucy/testkit';
import { startHarness, type Harness } from './harness.js';

const SIZES = { preinscriptos: 10, aspirantes: 20, ingresantes: 10 };

describe('ingest-sial reliability, merge rules and PlanIngesta', () => {
  let h: Harness;
  const detalles = (d: unknown) =>
    d as Record<string, unknown> & { errores_categorizados: Record<string, number> };
  const checkpoint = async (tipo: TipoIngesta) =>
    (await h.ingest.getConfiguracion({})).configuracion!.ventanas.find((v) => v.tipo === tipo)!.ultimaIngesta;

  beforeAll(async () => {
    h = await startHarness({ sizes: SIZES }, 'ingest_reliability');
    await h.openWindow(TipoIngesta.ASPIRANTES);
    const ok = await h.succeeded(await h.runPeriodic('aspirantes'));
    expect(ok.detalles).toMatchObject({ created: SIZES.aspirantes, modo: 'completo' });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('fails on a SIAL outage keeping the checkpoint, then fetches the missed window once SIAL recovers', async () => {
    const before = await checkpoint(TipoIngesta.ASPIRANTES);
    expect(before).toBeDefined();
    h.fake.setFaults({ status500: { count: 1000, endpoints: 'list' } });
    // Records change in SIAL while it is down: the next good run must bring them.
    const touched = h.fake.touch('aspirantes', 3);
    const failed = await h.failed(await h.runPeriodic('aspirantes'));
    expect(failed.mensajeError).toMatch(/^SIAL respondió HTTP 500 en GET .*: Error interno del servidor/);
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toEqual(before);

    h.fake.clearFaults();
    const personalBefore = h.fake.state().requests.personal;
    const taskId = await h.runPeriodic('aspirantes');
    const ok = detalles((await h.succeeded(taskId)).detalles);
    expect(ok).toMatchObject({ modo: 'incremental', recibidos: 3, updated: 3, created: 0 });
    expect(h.fake.state().requests.personal - personalBefore).toBe(3);
    const moved = timestampDate((await checkpoint(TipoIngesta.ASPIRANTES))!);
    expect(moved.getTime()).toBeGreaterThan(timestampDate(before!).getTime());

    // alumno.updated carries the per-field changes and the standard headers.
    const updated = (
      await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('alumno', 'updated'))
    ).filter((m) => m.header(H.taskId) === taskId);
    expect(updated).toHaveLength(3);
    for (const m of updated) {
      expect(m.header(H.contentType)).toBe('application/protobuf');
      expect(m.header(H.requestedBy)).toBe('scheduler');
      const e = fromBinary(AlumnoUpdatedSchema, m.data);
      expect(e.taskId).toBe(taskId);
      expect(touched.map(String)).toContain(e.alumno!.dni);
      const fields = e.changes.map((c) => c.field);
      expect(fields).toEqual(expect.arrayContaining(['telefono', 'carreras']));
      const telefono = e.changes.find((c) => c.field === 'telefono')!;
      expect(toJson(ValueSchema, telefono.after!)).toBe(e.alumno!.telefono);
      expect(toJson(ValueSchema, telefono.before!)).not.toBe(e.alumno!.telefono);
    }
  });

  it('counts malformed records as datos_invalidos and goes on with the rest', async () => {
    h.fake.setFaults({ badRecords: 2 });
    const { taskId } = await h.ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'admin' });
    const ok = detalles((await h.succeeded(taskId)).detalles);
    h.fake.setFaults({ badRecords: false });
    expect(ok.recibidos).toBe(SIZES.aspirantes);
    expect(ok.errores_categorizados.datos_invalidos).toBeGreaterThanOrEqual(2);
    expect(ok.descartados).toBe(2);
    expect(Number(ok.sin_cambios) + Number(ok.updated)).toBe(SIZES.aspirantes - 2);
  });

  it('moves estado only forward across tipos: an ingresante re-listed as aspirante stays ingresante', async () => {
    await h.openWindow(TipoIngesta.INGRESANTES);
    const ok = detalles((await h.succeeded(await h.runPeriodic('ingresantes'))).detalles);
    expect(ok.recibidos).toBe(SIZES.ingresantes);
    const aspirantes = new Set(
      Array.from({ length: SIZES.aspirantes }, (_, i) => String(h.fake.record('aspirantes', i)!.dni)),
    );
    const both = Array.from({ length: SIZES.ingresantes }, (_, i) =>
      String(h.fake.record('ingresantes', i)!.dni),
    ).filter((dni) => aspirantes.has(dni));
    expect(both.length).toBeGreaterThan(0);

    const { taskId } = await h.ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'admin' });
    await h.succeeded(taskId);
    for (const dni of both) {
      const { alumno } = await h.alumnos.getAlumno({ dni });
      expect(alumno!.estado).toBe(Estado.INGRESANTE);
    }
  });

  it('fails a scheduled run on an empty full list, checkpoint untouched, until staff confirm it by hand', async () => {
    await h.ingest.resetCheckpoints({ tipos: [TipoIngesta.ASPIRANTES], requestedBy: 'admin' });
    h.fake.setFaults({ empty: { count: 1, endpoints: 'list' } });
    const failed = await h.failed(await h.runPeriodic('aspirantes'));
    expect(failed.mensajeError).toBe(
      `SIAL devolvió la lista completa de aspirantes vacía (la última completa trajo ${SIZES.aspirantes} registros); no se avanza el punto de control. Si la lista está vacía de verdad, confírmelo con una ingesta manual completa.`,
    );
    // The reset is kept for the next run: it still starts from the full list.
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toBeUndefined();
    expect(
      Number((await h.alumnos.listAlumnos({ filter: { estados: [Estado.ASPIRANTE] } })).page!.totalEstimate),
    ).toBeGreaterThan(0);

    h.fake.setFaults({ empty: { count: 1, endpoints: 'list' } });
    const { taskId } = await h.ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'admin' });
    const manual = detalles((await h.succeeded(taskId)).detalles);
    expect(manual.recibidos).toBe(0);
    expect(String((manual.advertencias as string[])[0])).toContain(`trajo ${SIZES.aspirantes} registros`);
    h.fake.setFaults({ empty: { count: 1, endpoints: 'list' } });
    const confirmed = detalles((await h.succeeded(await h.runPeriodic('aspirantes'))).detalles);
    expect(confirmed).toMatchObject({ recibidos: 0, modo: 'completo' });
    // Accepted, but an empty answer confirms no point in time: the next run asks for the full list again.
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toBeUndefined();
    expect(confirmed.checkpoint_sin_mover).toMatch(/^SIAL respondió vacío/);
  });

  it('PlanIngesta returns the resumen and the per-field plan and writes nothing', async () => {
    const [dni] = h.fake.touch('aspirantes', 1);
    const before = (await h.alumnos.getAlumno({ dni: String(dni) })).alumno!;
    const res = await h.ingest.planIngesta({ tipo: TipoIngesta.ASPIRANTES, limit: 5 });
    expect(res.resumen).toMatchObject({ tipo: 'aspirantes', recibidos: SIZES.aspirantes, updated: 1 });
    const change = res.cambios.find((c) => c.dni === String(dni))!;
    expect(change.kind).toBe('update');
    const telefono = change.fields.find((f) => f.field === 'telefono')!;
    expect(toJson(ValueSchema, telefono.before!)).toBe(before.telefono);
    expect(toJson(ValueSchema, telefono.after!)).not.toBe(before.telefono);
    const after = (await h.alumnos.getAlumno({ dni: String(dni) })).alumno!;
    expect(after.telefono).toBe(before.telefono);
    expect(after.updatedAt).toEqual(before.updatedAt);

    const bad = await h.ingest
      .planIngesta({ tipo: TipoIngesta.ASPIRANTES, desde: timestampFromDate(new Date()) })
      .catch((e: unknown) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain('hasta');

    h.fake.setFaults({ status500: { count: 1, endpoints: 'list' } });
    const down = await h.ingest.planIngesta({ tipo: TipoIngesta.ASPIRANTES }).catch((e: unknown) => e);
    expect((down as ConnectError).code).toBe(Code.Unavailable);
    expect((down as ConnectError).rawMessage).toMatch(/^SIAL respondió HTTP 500/);
  });

  it('publishes alumno.deleted with Content-Type and Lucy-Requested-By', async () => {
    const [first] = (await h.alumnos.listAlumnos({ page: { pageSize: 1 } })).alumnos;
    await h.alumnos.deleteAlumno({ id: first!.id, requestedBy: 'secretaria' });
    const [m] = await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('alumno', 'deleted'));
    expect(m!.header(H.contentType)).toBe('application/protobuf');
    expect(m!.header(H.requestedBy)).toBe('secretaria');
    expect(m!.header(H.trigger)).toBe('admin');
    expect(m!.header(H.taskId)).toBeUndefined();
    const e = fromBinary(AlumnoDeletedSchema, m!.data);
    expect(e).toMatchObject({ deletedBy: 'secretaria', eliminarCuentasExternas: true });
    expect(e.alumno!.id).toBe(first!.id);
  });
});
