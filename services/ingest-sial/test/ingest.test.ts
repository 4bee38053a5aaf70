import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { FakeSial } from '@lucy/fake-sial';
import { AlumnoCreatedSchema, Estado, TaskFailedSchema, TaskSkippedSchema, TipoIngesta } from '@lucy/proto';
import { readStream, waitFor, type TestNats } from '@lucy/testkit';
import { startHarness, type Harness } from './harness.js';

const ASPIRANTES = 25;

describe('ingest-sial against the fake SIAL, NATS and Postgres', () => {
  let h: Harness;
  let fake: FakeSial;
  let t: TestNats;
  let ingest: Harness['ingest'];
  let alumnos: Harness['alumnos'];

  beforeAll(async () => {
    h = await startHarness(
      { sizes: { preinscriptos: 5, aspirantes: ASPIRANTES, ingresantes: 5 } },
      'ingest_test',
    );
    ({ fake, t, ingest, alumnos } = h);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const eventsOf = (taskId: string, kind: string) => h.taskEvents(taskId, kind);
  const runPeriodic = (tipo: string) => h.runPeriodic(tipo);
  const succeeded = (taskId: string) => h.succeeded(taskId);

  it('rejects an invalid window naming the field', async () => {
    const now = new Date();
    const err = await ingest
      .updateConfiguracion({
        configuracion: {
          ventanas: [
            {
              tipo: TipoIngesta.ASPIRANTES,
              diaInicio: timestampFromDate(now),
              diaFin: timestampFromDate(new Date(now.getTime() - 3600_000)),
            },
          ],
        },
        requestedBy: 'admin',
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toContain('ventanas[0].diaFin');
  });

  it('ingests aspirantes inside the window, creating alumnos and publishing alumno.created', async () => {
    const inicio = new Date(Date.now() - 3600_000);
    const res = await ingest.updateConfiguracion({
      configuracion: { ventanas: [{ tipo: TipoIngesta.ASPIRANTES, diaInicio: timestampFromDate(inicio) }] },
      requestedBy: 'admin',
    });
    const ventana = res.configuracion!.ventanas.find((v) => v.tipo === TipoIngesta.ASPIRANTES)!;
    expect(timestampDate(ventana.diaInicio!).getTime()).toBe(inicio.getTime());

    const taskId = await runPeriodic('aspirantes');
    const ok = await succeeded(taskId);
    expect(ok.detalles).toMatchObject({ recibidos: ASPIRANTES, created: ASPIRANTES, modo: 'completo' });
    expect(Number(ok.cantidadEntidades)).toBe(ASPIRANTES);
    expect(fake.state().requests.personal).toBe(ASPIRANTES);

    const page = await alumnos.listAlumnos({
      filter: { estados: [Estado.ASPIRANTE] },
      page: { pageSize: 10 },
    });
    expect(Number(page.page!.totalEstimate)).toBe(ASPIRANTES);
    expect(page.alumnos).toHaveLength(10);
    expect(page.page!.nextPageToken).not.toBe('');
    expect(page.alumnos.every((a) => a.nombre && a.apellido)).toBe(true);

    const created = (await readStream(t.handles, t.names.streams.evt, t.names.evt('alumno', 'created'))).map(
      (m) => fromBinary(AlumnoCreatedSchema, m.data),
    );
    expect(created).toHaveLength(ASPIRANTES);
    expect(created[0]!.taskId).toBe(taskId);
    expect(created[0]!.alumno!.estado).toBe(Estado.ASPIRANTE);

    const config = await ingest.getConfiguracion({});
    const after = config.configuracion!.ventanas.find((v) => v.tipo === TipoIngesta.ASPIRANTES)!;
    expect(after.ultimaIngesta).toBeDefined();
    expect(Number(after.ultimaCantidad)).toBe(ASPIRANTES);
  });

  it('re-running with nothing changed makes no personal-data requests', async () => {
    await ingest.resetCheckpoints({ tipos: [TipoIngesta.ASPIRANTES], requestedBy: 'admin' });
    const before = fake.state().requests.personal;
    const ok = await succeeded(await runPeriodic('aspirantes'));
    expect(ok.detalles).toMatchObject({
      recibidos: ASPIRANTES,
      created: 0,
      updated: 0,
      sin_cambios: ASPIRANTES,
      datos_personales_consultados: 0,
    });
    expect(fake.state().requests.personal).toBe(before);
  });

  it('skips a tipo without a start date, with the Spanish reason', async () => {
    const taskId = await runPeriodic('ingresantes');
    const [m] = await waitFor(
      async () => {
        const e = await eventsOf(taskId, 'skipped');
        return e.length ? e : undefined;
      },
      { what: 'skipped event' },
    );
    expect(fromBinary(TaskSkippedSchema, m!.data).reason).toContain(
      'No hay fecha de inicio configurada para ingresantes',
    );
  });

  it('fails with "SIAL respondió HTTP 500" on a SIAL 500 and keeps the checkpoint', async () => {
    const checkpointOf = async () =>
      (await ingest.getConfiguracion({})).configuracion!.ventanas.find(
        (v) => v.tipo === TipoIngesta.ASPIRANTES,
      )!.ultimaIngesta;
    const before = await checkpointOf();
    expect(before).toBeDefined();
    fake.setFaults({ status500: { count: 1000, endpoints: 'list' } });
    const taskId = await runPeriodic('aspirantes');
    const [m] = await waitFor(
      async () => {
        const e = await eventsOf(taskId, 'failed');
        return e.length ? e : undefined;
      },
      { what: 'failed event' },
    );
    const failed = fromBinary(TaskFailedSchema, m!.data);
    expect(failed.mensajeError).toMatch(/^SIAL respondió HTTP 500 en GET /);
    expect(failed.willRetry).toBe(true);
    expect(await checkpointOf()).toEqual(before);
    fake.setFaults({ status500: 0 });
  });

  it('validates a manual ingestion and runs a dry run that writes nothing', async () => {
    const err = await ingest
      .startIngesta({
        tipo: TipoIngesta.PREINSCRIPTOS,
        desde: timestampFromDate(new Date()),
        requestedBy: 'admin',
      })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toContain('hasta');
    const { taskId } = await ingest.startIngesta({
      tipo: TipoIngesta.PREINSCRIPTOS,
      dryRun: true,
      requestedBy: 'admin',
    });
    const ok = await succeeded(taskId);
    const d = ok.detalles as Record<string, number>;
    expect(d).toMatchObject({ dry_run: true, recibidos: 5 });
    // Some preinscriptos are also aspirantes (already stored): they are planned as updates.
    expect(d.created! + d.updated! + d.sin_cambios!).toBe(5);
    expect(d.created).toBeGreaterThan(0);
    expect(Number(ok.cantidadEntidades)).toBe(0);
    const all = await alumnos.listAlumnos({});
    expect(Number(all.page!.totalEstimate)).toBe(ASPIRANTES);
  });

  it('deletes an alumno and publishes alumno.deleted', async () => {
    const [first] = (await alumnos.listAlumnos({ page: { pageSize: 1 } })).alumnos;
    const res = await alumnos.deleteAlumno({ id: first!.id, requestedBy: 'admin' });
    expect(res.alumno!.dni).toBe(first!.dni);
    const err = await alumnos.getAlumno({ id: first!.id }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    const deleted = await readStream(t.handles, t.names.streams.evt, t.names.evt('alumno', 'deleted'));
    expect(deleted).toHaveLength(1);
  });

  it('exports the selection as CSV', async () => {
    const chunks: Uint8Array[] = [];
    let filename = '';
    for await (const part of alumnos.exportAlumnos({ filter: { estados: [Estado.ASPIRANTE] } })) {
      if (part.filename) filename = part.filename;
      chunks.push(part.chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    expect(filename).toMatch(/\.csv$/);
    expect(
      text
        .replace(/^\uFEFF/, '')
        .trim()
        .split('\r\n'),
    ).toHaveLength(ASPIRANTES); // header + ASPIRANTES - 1 (one deleted)
  });
});
