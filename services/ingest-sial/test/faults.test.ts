/**
 * ingest-sial against a SIAL that misbehaves the way real services do (issue 18): every list answered `[]` with a
 * 200, a proxy's HTML page with 200 and with 502, personal data answered `[]`, a well-formed answer of the wrong
 * shape, and changes whose modification date falls behind the checkpoint. Nothing is lost, every failure is a Log
 * row of its Tarea, and the texts and counts say what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { H } from '@lucy/platform';
import { AlumnoUpdatedSchema, TaskFailedSchema, TipoIngesta } from '@lucy/proto';
import { readStream, waitFor } from '@lucy/testkit';
import { startHarness, type Harness } from './harness.js';

const SIZES = { preinscriptos: 12, aspirantes: 30, ingresantes: 8 };
type Detalles = Record<string, unknown> & {
  errores_categorizados: Record<string, number>;
  reconciliacion?: { perdidos: number; incremental_previa?: Record<string, number> };
};

describe('ingest-sial against a misbehaving SIAL', () => {
  let h: Harness;
  /** Shifts the fake's clock: records touched meanwhile carry that modification date. */
  let skewMs = 0;
  const checkpoint = async (tipo: TipoIngesta) => {
    const v = (await h.ingest.getConfiguracion({})).configuracion!.ventanas.find((w) => w.tipo === tipo)!;
    return v.ultimaIngesta ? timestampDate(v.ultimaIngesta).getTime() : undefined;
  };
  const detalles = async (taskId: string) => (await h.succeeded(taskId)).detalles as Detalles;
  const telefono = async (dni: number) => (await h.alumnos.getAlumno({ dni: String(dni) })).alumno!.telefono;
  const sialTelefono = (tipo: 'aspirantes' | 'preinscriptos' | 'ingresantes', dni: number) => {
    for (let i = 0; ; i++) {
      const r = h.fake.record(tipo, i);
      if (!r) throw new Error(`no record ${dni}`);
      if (r.dni === dni) return (r.personal as { telefono?: string }).telefono;
    }
  };
  /** Every Log row of a task, once at least `n` rows match `pattern`. */
  const logsWhen = async (taskId: string, pattern: RegExp, n = 1) =>
    waitFor(
      async () => {
        const logs = await h.logs(taskId);
        return logs.filter((l) => pattern.test(l.message)).length >= n ? logs : undefined;
      },
      { what: `${n} Log rows ${String(pattern)} of ${taskId}`, timeoutMs: 20_000 },
    );

  beforeAll(async () => {
    h = await startHarness({ sizes: SIZES, now: () => new Date(Date.now() + skewMs) }, 'ingest_faults', {
      // One HTTP retry inside an attempt, two Tarea attempts 300 ms apart: failures end within the test.
      env: { SIAL_RETRIES: '1', INGEST_MAX_ATTEMPTS: '2' },
      backoffMs: () => 300,
    });
    await h.openWindow(TipoIngesta.ASPIRANTES);
    const first = await detalles(await h.runPeriodic('aspirantes'));
    expect(first).toMatchObject({ created: SIZES.aspirantes, updated: 0, errors: 0, modo: 'completo' });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('keeps the checkpoint on an empty incremental answer, so changes made during the fault arrive after it', async () => {
    const before = await checkpoint(TipoIngesta.ASPIRANTES);
    expect(before).toBeDefined();
    h.fake.setFaults({ empty: { count: 1000, endpoints: 'list' } });
    const touched = h.fake.touch('aspirantes', 4);
    const during = await detalles(await h.runPeriodic('aspirantes'));
    expect(during).toMatchObject({ modo: 'incremental', recibidos: 0 });
    expect(String(during.checkpoint_sin_mover)).toMatch(/^SIAL respondió vacío/);
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toBe(before);

    h.fake.clearFaults();
    const after = await detalles(await h.runPeriodic('aspirantes'));
    expect(after).toMatchObject({ modo: 'incremental', recibidos: 4, updated: 4, errors: 0 });
    for (const dni of touched) expect(await telefono(dni)).toBe(sialTelefono('aspirantes', dni));
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toBeGreaterThan(before!);
    // One person, one alumno: nothing was stored twice.
    const { page } = await h.alumnos.listAlumnos({});
    expect(Number(page!.totalEstimate)).toBe(SIZES.aspirantes);
  });

  it('brings a change of personal data alone with the incremental window that lists it', async () => {
    const touched = h.fake.touch('aspirantes', 2, { change: 'personal' });
    const d = await detalles(await h.runPeriodic('aspirantes'));
    expect(d).toMatchObject({ modo: 'incremental', updated: 2, errors: 0 });
    for (const dni of touched) expect(await telefono(dni)).toBe(sialTelefono('aspirantes', dni));
  });

  it('reconciles: the full list catches what incremental runs missed, one Log row each, and moves the checkpoint', async () => {
    // Ingresantes only (not also aspirantes), so that each change shows on an alumno of this tipo.
    const aspirantes = new Set(
      Array.from({ length: SIZES.aspirantes }, (_, i) => h.fake.record('aspirantes', i)!.dni),
    );
    const own = Array.from(
      { length: SIZES.ingresantes },
      (_, i) => h.fake.record('ingresantes', i)!.dni,
    ).filter((dni) => !aspirantes.has(dni));
    expect(own.length).toBeGreaterThanOrEqual(3);
    await h.openWindow(TipoIngesta.INGRESANTES);
    const first = await detalles(await h.runPeriodic('ingresantes'));
    expect(first).toMatchObject({ modo: 'completo', recibidos: SIZES.ingresantes, errors: 0 });

    // Changes SIAL dated two hours back, behind the checkpoint: no incremental window will ever list them.
    skewMs = -2 * 3600_000;
    const missed = h.fake.touch('ingresantes', own.slice(0, 2));
    skewMs = 0;
    const quiet = await detalles(await h.runPeriodic('ingresantes'));
    expect(quiet).toMatchObject({ modo: 'incremental', recibidos: 0 });
    // And a change of now, which the reconciliation's incremental window brings: not "missed".
    const recent = h.fake.touch('ingresantes', own.slice(2, 3));
    const before = await checkpoint(TipoIngesta.INGRESANTES);

    const taskId = await h.runReconciliation('ingresantes');
    const d = await detalles(taskId);
    expect(d.reconciliacion).toEqual({
      perdidos: 2,
      incremental_previa: { recibidos: 1, created: 0, updated: 1 },
    });
    expect(d).toMatchObject({
      modo: 'reconciliacion',
      recibidos: SIZES.ingresantes,
      created: 0,
      updated: 3,
      errors: 0,
    });
    for (const dni of [...missed, ...recent]) {
      expect(await telefono(dni)).toBe(sialTelefono('ingresantes', dni));
    }
    expect(await checkpoint(TipoIngesta.INGRESANTES)).toBeGreaterThan(before!);
    // Each change announced once, from the pass that made it.
    const announced = (
      await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('alumno', 'updated'))
    )
      .filter((m) => m.header(H.taskId) === taskId)
      .map((m) => Number(fromBinary(AlumnoUpdatedSchema, m.data).alumno!.dni));
    expect(announced.sort()).toEqual([...missed, ...recent].sort());

    const logs = await logsWhen(taskId, /^Reconciliación de ingresantes: 0 creados/);
    const caught = logs.filter((l) =>
      /^Reconciliación de ingresantes: DNI \d+ había cambiado/.test(l.message),
    );
    expect(caught.map((l) => Number(/DNI (\d+)/.exec(l.message)![1])).sort()).toEqual([...missed].sort());
    for (const l of caught) {
      expect(l.message).toMatch(
        /había cambiado \(.*telefono.*\) en SIAL y las ingestas incrementales no lo trajeron; ya quedó actualizado\.$/,
      );
      expect(l.nivel).toBe('WARNING');
      expect(l.module).toBe('ingest_sial');
      expect(l.alumnoId).toBe(
        (await h.alumnos.getAlumno({ dni: /DNI (\d+)/.exec(l.message)![1]! })).alumno!.id,
      );
    }
    expect(logs.map((l) => l.message)).toContain(
      'Reconciliación de ingresantes: 2 registros habían cambiado en SIAL sin que las ingestas incrementales los trajeran; ya quedaron al día.',
    );
    expect(logs.map((l) => l.message)).toContain(
      `Reconciliación de ingresantes: 0 creados, 3 actualizados, ${SIZES.ingresantes - 2} sin cambios, 0 errores`,
    );

    // The metric behind the alert.
    const metrics = await (await fetch(`${h.service.rpc.metricsUrl!}/metrics`)).text();
    expect(metrics).toMatch(/^lucy_ingest_reconciliation_missed_total\{tipo="ingresantes"\} 2$/m);
    expect(metrics).toMatch(/^lucy_ingest_reconciliation_missed_total\{tipo="preinscriptos"\} 0$/m);

    // A second reconciliation finds nothing missed.
    const again = await detalles(await h.runReconciliation('ingresantes'));
    expect(again.reconciliacion).toMatchObject({ perdidos: 0 });
  });

  it('retries a proxy HTML page (200 and 502) like a 500, with every attempt, retry and the end reported', async () => {
    const before = await checkpoint(TipoIngesta.ASPIRANTES);
    h.fake.setFaults({ html502: { count: 1000, endpoints: 'list' } });
    const taskId = await h.runPeriodic('aspirantes');
    // Each attempt ends in a `failed` event: task-tracker writes it as the Tarea's Log row (WARNING with the wait
    // before the next attempt, ERROR for the last), as for every task.
    const failures = await waitFor(
      async () => {
        const e = (await h.taskEvents(taskId, 'failed')).map((m) => fromBinary(TaskFailedSchema, m.data));
        return e.length >= 2 ? e.sort((a, b) => a.attempt - b.attempt) : undefined;
      },
      { what: `two failed attempts of ${taskId}`, timeoutMs: 20_000 },
    );
    h.fake.clearFaults();
    expect(failures.map((f) => [f.attempt, f.willRetry])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(Number(failures[0]!.retryInMs)).toBe(300);
    for (const f of failures)
      expect(f.mensajeError).toMatch(
        /^SIAL respondió HTTP 502 en GET \/webservice\/sial\/V2\/04\/aspirantes\/listas\/\d{12}\/\d{12}: una página HTML «502 Bad Gateway», probablemente de un proxy \(2 solicitudes HTTP\)$/,
      );
    // Two HTTP requests per attempt: the retry inside each attempt is a row of ingest-sial's own.
    const logs = await logsWhen(taskId, /^Solicitud HTTP a SIAL fallida \(SIAL respondió HTTP 502/, 2);
    expect(logs.every((l) => l.module === 'ingest_sial')).toBe(true);
    // The attempt and final rows are task-tracker's: ingest-sial does not write them a second time.
    expect(logs.filter((l) => /intento \d+ de \d+:|falló definitivamente/.test(l.message))).toEqual([]);
    expect(await checkpoint(TipoIngesta.ASPIRANTES)).toBe(before);

    // A 200 with HTML: transient too, retried; once SIAL answers, the second attempt succeeds.
    h.fake.setFaults({ html200: { count: 2, endpoints: 'list' } });
    const recovered = await h.runPeriodic('aspirantes');
    const d = await detalles(recovered);
    expect(d.errors).toBe(0);
    const first = await h.failed(recovered);
    expect(first.willRetry).toBe(true);
    expect(first.mensajeError).toMatch(
      /Respuesta inválida de SIAL en GET .*: el cuerpo no es JSON sino una página HTML «502 Bad Gateway», probablemente de un proxy \(2 solicitudes HTTP\)$/,
    );
  });

  it('fails at once on a well-formed answer of the wrong shape, saying it will not be retried', async () => {
    h.fake.setFaults({ shape: { variant: 'not_array', endpoints: 'list' } });
    const taskId = await h.runPeriodic('aspirantes');
    const failed = await h.failed(taskId);
    h.fake.setFaults({ shape: false });
    expect(failed.attempt).toBe(1);
    expect(failed.willRetry).toBe(false);
    expect(failed.mensajeError).toMatch(/^Respuesta inválida de SIAL/);
  });

  it('names personal data answered [] as a document SIAL did not find, keeps the stored data, and logs it per record', async () => {
    const [dni] = h.fake.touch('aspirantes', 1, { change: 'list' });
    const stored = (await h.alumnos.getAlumno({ dni: String(dni) })).alumno!;
    h.fake.setFaults({ empty: { count: 1000, endpoints: 'personal' } });
    const taskId = await h.runPeriodic('aspirantes');
    const d = await detalles(taskId);
    h.fake.clearFaults();
    // Every record of the window asked for its personal data and got []: each is a problem, none is lost.
    expect(Number(d.recibidos)).toBeGreaterThanOrEqual(1);
    expect(d.errores_categorizados.sial).toBe(d.recibidos);
    expect(d.errors).toBe(d.recibidos);
    const logs = await logsWhen(taskId, new RegExp(`^DNI ${dni}: SIAL no encontró el documento`));
    const row = logs.find((l) => l.message.startsWith(`DNI ${dni}: `))!;
    expect(row.message).toBe(
      `DNI ${dni}: SIAL no encontró el documento en datos personales; se conservan los datos guardados`,
    );
    expect(row.nivel).toBe('WARNING');
    expect(row.alumnoId).toBe(stored.id);
    const after = (await h.alumnos.getAlumno({ dni: String(dni) })).alumno!;
    expect([after.nombre, after.apellido, after.telefono]).toEqual([
      stored.nombre,
      stored.apellido,
      stored.telefono,
    ]);
    // The run summary is a Log row too, a WARNING because of the problem.
    expect(logs.find((l) => l.message.startsWith('Ingesta de aspirantes: '))?.nivel).toBe('WARNING');
  });
});
