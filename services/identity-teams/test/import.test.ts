/**
 * ImportCuentas (adoption of pylucy): an account pylucy created becomes an adopted record, a re-run changes
 * nothing, a record Lucy made is never replaced, and activating an adopted alumno creates no Graph user.
 */
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { readStream, waitFor } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUpn } from '../src/domain/index.js';
import { DOMAIN, startHarness, type Harness } from './harness.js';

describe('ImportCuentas (adoption of pylucy)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ label: 'identity_import', aspirantes: 4 });
  }, 120_000);

  const cuenta = async (alumnoId: string): Promise<Record<string, unknown>> =>
    (await h
      .service!.knex.withSchema('identity')
      .table('cuenta')
      .where({ alumno_id: alumnoId })
      .first()) as Record<string, unknown>;

  afterAll(async () => {
    await h?.stop();
  });

  it('adopts accounts once, keeps Lucy’s own, and an activation of an adopted alumno creates no Graph user', async () => {
    const [a, b] = h.alumnos;
    const upn = buildUpn({ prefix: 'test-a', dni: a!.dni, domain: DOMAIN });
    const cuentas = [
      {
        alumnoId: a!.id,
        dni: a!.dni,
        upn,
        teamsProcesado: true,
        emailProcesado: true,
        procesadoEn: timestampFromDate(new Date('2026-03-01T12:00:00Z')),
      },
      { alumnoId: b!.id, dni: b!.dni, upn: 'no es un upn', teamsProcesado: true },
    ];
    const dry = await h.identity.importCuentas({ cuentas, dryRun: true });
    expect(dry.results.map((r) => r.resultado)).toEqual(['creada', 'omitida']);
    expect((await h.identity.getCuenta({ alumnoId: a!.id }).catch(() => null))?.cuenta?.upn ?? '').toBe('');

    const res = await h.identity.importCuentas({ cuentas, requestedBy: 'adopción' });
    expect(res.results.map((r) => r.resultado)).toEqual(['creada', 'omitida']);
    const stored = await cuenta(a!.id);
    expect(stored).toMatchObject({ upn, estado: 'activa', adoptada_de: 'pylucy', graph_id: null });
    expect(stored.adopcion).toMatchObject({
      teams: true,
      email: true,
      procesado_en: '2026-03-01T12:00:00.000Z',
    });

    // ingest-sial projects the adopted account onto the alumno.
    await waitFor(
      async () => {
        const got = await h.alumnoRpc.getAlumno({ id: a!.id });
        return got.alumno?.emailInstitucional === upn && got.alumno.teamsProcesado ? true : undefined;
      },
      { what: 'the adopted UPN on the alumno', timeoutMs: 20_000 },
    );

    const again = await h.identity.importCuentas({ cuentas });
    expect(again.results.map((r) => r.resultado)).toEqual(['sin_cambios', 'omitida']);

    const usersBefore = h.graph.users().length;
    const enq = await h.identity.enqueue({
      alumnoIds: [a!.id],
      taskName: 'alumnos.tasks.activar_servicios_alumno',
      requestedBy: 'ana',
    });
    const taskId = enq.taskIds[0];
    if (taskId) {
      const outcome = await h.waitOutcome(taskId);
      expect(outcome.kind).toBe('skipped');
    } else {
      expect(enq.resultados[0]?.estado).not.toBe('programada');
    }
    expect(h.graph.users().length).toBe(usersBefore);
  });

  it('a retry announces an adopted record whose event was lost, so the alumno gets its UPN', async () => {
    const [a, , , c] = h.alumnos;
    const upn = buildUpn({ prefix: 'test-a', dni: c!.dni, domain: DOMAIN });
    // As a call that wrote the record and then failed to publish leaves it: stored, never announced.
    await h.service!.knex.raw(
      `insert into identity.cuenta
       select (jsonb_populate_record(null::identity.cuenta,
         to_jsonb(x) || jsonb_build_object('alumno_id', ?::text, 'dni', ?::text, 'upn', ?::text))).*
       from identity.cuenta x where alumno_id = ?`,
      [c!.id, c!.dni, upn, a!.id],
    );
    expect((await h.alumnoRpc.getAlumno({ id: c!.id })).alumno?.emailInstitucional).toBe('');
    const retry = await h.identity.importCuentas({
      cuentas: [
        {
          alumnoId: c!.id,
          dni: c!.dni,
          upn,
          teamsProcesado: true,
          emailProcesado: true,
          procesadoEn: timestampFromDate(new Date('2026-03-01T12:00:00Z')),
        },
      ],
    });
    expect(retry.results.map((r) => r.resultado)).toEqual(['sin_cambios']);
    await waitFor(
      async () => {
        const got = await h.alumnoRpc.getAlumno({ id: c!.id });
        return got.alumno?.emailInstitucional === upn && got.alumno.teamsProcesado ? true : undefined;
      },
      { what: 'the repaired UPN on the alumno', timeoutMs: 20_000 },
    );
  });

  it('announces every change of an adopted record, the Teams and Moodle flags too', async () => {
    const c = h.alumnos[1]!;
    const upn = buildUpn({ prefix: 'test-a', dni: c.dni, domain: DOMAIN });
    const events = async () =>
      (await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('cuenta', 'activada'))).filter(
        (m) => m.header('Nats-Msg-Id')?.startsWith(`pylucy-adopt:${c.id}:`),
      ).length;
    const cuenta = (teams: boolean, moodle: boolean) => ({
      alumnoId: c.id,
      dni: c.dni,
      upn,
      teamsProcesado: teams,
      moodleProcesado: moodle,
    });
    const results: string[] = [];
    for (const [teams, moodle] of [
      [false, false],
      [true, true],
      [false, false],
    ] as const)
      results.push(
        (await h.identity.importCuentas({ cuentas: [cuenta(teams, moodle)] })).results[0]!.resultado,
      );
    expect(results).toEqual(['creada', 'actualizada', 'actualizada']);
    expect(await events()).toBe(3);
    // The same record again: announced again, and dropped as a repeat within JetStream's duplicate window.
    await h.identity.importCuentas({ cuentas: [cuenta(false, false)] });
    expect(await events()).toBe(3);
  });

  it('never replaces an account record Lucy created itself', async () => {
    const c = h.alumnos[2]!;
    await h
      .service!.knex.withSchema('identity')
      .table('cuenta')
      .insert({
        alumno_id: c.id,
        dni: c.dni,
        upn: `lucy-${c.dni}@${DOMAIN}`,
        estado: 'activa',
        graph_id: '00000000-0000-4000-8000-000000000001',
      });
    const res = await h.identity.importCuentas({
      cuentas: [{ alumnoId: c.id, dni: c.dni, upn: `otra-${c.dni}@${DOMAIN}`, teamsProcesado: true }],
    });
    expect(res.results[0]).toMatchObject({ resultado: 'omitida' });
    expect(res.results[0]!.motivo).toMatch(/cuenta propia/);
    const stored = await cuenta(c.id);
    expect(stored.upn).toBe(`lucy-${c.dni}@${DOMAIN}`);
  });
});
