import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Estado, TipoIngesta, type ImportedAlumnoSchema } from '@lucy/proto';
import { readStream } from '@lucy/testkit';
import { alumnoTable } from '../src/db/alumno.repository.js';
import { startHarness, type Harness } from './harness.js';

type Imported = MessageInitShape<typeof ImportedAlumnoSchema>;

describe('ImportAlumnos (adoption of pylucy)', () => {
  let h: Harness;
  let sial: {
    tipo_documento: string;
    dni: string;
    nombre: string;
    estado: string;
    email_personal: string | null;
  };

  beforeAll(async () => {
    h = await startHarness({ sizes: { preinscriptos: 1, aspirantes: 3, ingresantes: 1 } }, 'ingest_import');
    await h.openWindow(TipoIngesta.ASPIRANTES);
    await h.succeeded(await h.runPeriodic('aspirantes'));
    sial = (await alumnoTable(h.service.knex).first()) as typeof sial;
    // A field SIAL did not send for this alumno: pylucy may fill it.
    await alumnoTable(h.service.knex).where({ dni: sial.dni }).update({ localidad: null });
  }, 90_000);

  afterAll(async () => {
    await h?.stop();
  });

  const batch = (): Imported[] => [
    // Already ingested from SIAL: pylucy still says preinscripto and has other data.
    {
      originalId: 1n,
      tipoDocumento: sial.tipo_documento,
      dni: sial.dni,
      nombre: 'Otro Nombre',
      apellido: '',
      estado: Estado.PREINSCRIPTO,
      localidad: 'Río Cuarto',
    },
    {
      originalId: 2n,
      tipoDocumento: 'DNI',
      dni: '30111223',
      nombre: 'Seán',
      apellido: "O'Connor",
      emailPersonal: '',
      estado: Estado.ALUMNO,
      carreras: { values: [{ kind: { case: 'structValue', value: { fields: {} } } }] },
    },
    { originalId: 3n, tipoDocumento: 'DNI', dni: '', nombre: 'Sin documento', estado: Estado.ASPIRANTE },
  ];

  it('plans without writing', async () => {
    const before = await alumnoTable(h.service.knex).count({ n: '*' });
    const res = await h.alumnos.importAlumnos({ alumnos: batch(), dryRun: true });
    expect(res.results.map((r) => r.resultado)).toEqual(['actualizado', 'creado', 'omitido']);
    expect(res.results[2]!.motivo).toMatch(/documento/);
    expect(await alumnoTable(h.service.knex).count({ n: '*' })).toEqual(before);
  });

  it('merges by document, never downgrading estado nor replacing what SIAL gave, and re-runs to nothing', async () => {
    const res = await h.alumnos.importAlumnos({ alumnos: batch(), requestedBy: 'adopción' });
    expect(res.results.map((r) => r.resultado)).toEqual(['actualizado', 'creado', 'omitido']);
    expect(res.results[0]!.campos).toEqual(['localidad']);
    const merged = (await alumnoTable(h.service.knex).where({ dni: sial.dni }).first()) as Record<
      string,
      unknown
    >;
    expect(merged.estado).toBe(sial.estado);
    expect(merged.nombre).toBe(sial.nombre);
    expect(merged.localidad).toBe('Río Cuarto');
    const adopted = (await alumnoTable(h.service.knex).where({ dni: '30111223' }).first()) as Record<
      string,
      unknown
    >;
    expect(adopted).toMatchObject({ apellido: "O'Connor", estado: 'alumno', email_personal: null });
    expect(res.results[1]!.alumnoId).toBe(adopted.id);

    const again = await h.alumnos.importAlumnos({ alumnos: batch() });
    expect(again.results.map((r) => r.resultado)).toEqual(['sin_cambios', 'sin_cambios', 'omitido']);
    expect(again.results[1]!.alumnoId).toBe(adopted.id);
    expect(await alumnoTable(h.service.knex).where({ dni: '30111223' }).count({ n: '*' })).toEqual([
      { n: '1' },
    ]);

    const created = await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('alumno', 'created'));
    expect(created.length).toBeGreaterThan(0);
  });

  it('diferir_marca imports without marking; marcar marks only, refusing what it cannot', async () => {
    const row: Imported = {
      originalId: 20n,
      tipoDocumento: 'DNI',
      dni: '30777666',
      nombre: 'Luis',
      apellido: 'Diferido',
      estado: Estado.ASPIRANTE,
      fingerprint: 'huella-20',
    };
    const key = { originalId: 20n, tipoDocumento: 'dni ', dni: ' 30777666', fingerprint: 'huella-20' };
    const probe = async () => (await h.alumnos.importAlumnos({ probe: true, alumnos: [key] })).results[0]!;
    const imported = await h.alumnos.importAlumnos({ alumnos: [row], diferirMarca: true });
    expect(imported.results[0]!.resultado).toBe('creado');
    expect((await probe()).resultado).toBe('pendiente');

    const marked = await h.alumnos.importAlumnos({
      marcar: true,
      alumnos: [key, { originalId: 21n, tipoDocumento: 'DNI', dni: '1', fingerprint: 'x' }],
    });
    expect(marked.results.map((r) => r.resultado)).toEqual(['sin_cambios', 'omitido']);
    expect(marked.results[0]!.alumnoId).toBe(imported.results[0]!.alumnoId);
    expect(marked.results[1]!.motivo).toMatch(/documento/);
    expect(await probe()).toMatchObject({
      resultado: 'sin_cambios',
      alumnoId: imported.results[0]!.alumnoId,
    });
    // Nothing but the mark: the alumno is as imported.
    expect(await alumnoTable(h.service.knex).where({ dni: '30777666' }).count({ n: '*' })).toEqual([
      { n: '1' },
    ]);

    // A repeated document: the first row counts, as in an import.
    const twice = await h.alumnos.importAlumnos({
      marcar: true,
      alumnos: [key, { ...key, originalId: 22n, fingerprint: 'otra-huella' }],
    });
    expect(twice.results.map((r) => r.resultado)).toEqual(['sin_cambios', 'omitido']);
    expect(await probe()).toMatchObject({ resultado: 'sin_cambios' });

    // Hostile keys: refused as a whole, naming the field, nothing stored.
    for (const [bad, field] of [
      [{ ...key, fingerprint: 'f'.repeat(100_000) }, 'alumnos[0].fingerprint'],
      [{ ...key, fingerprint: 'a\u0000b' }, 'alumnos[0].fingerprint'],
      [{ ...key, fingerprint: 'a\r\nX-Evil: 1' }, 'alumnos[0].fingerprint'],
      [{ ...key, dni: '3\u00000' }, 'alumnos[0].dni'],
      [{ ...key, dni: '9'.repeat(100_000) }, 'alumnos[0].dni'],
    ] as const) {
      for (const kind of [{ marcar: true }, { probe: true }]) {
        const err = await h.alumnos.importAlumnos({ ...kind, alumnos: [bad] }).catch((e: unknown) => e);
        expect(String(err), field).toContain('invalid_argument');
        expect(String(err)).toContain(field);
      }
    }
    const hostile = await h.alumnos
      .importAlumnos({ alumnos: [{ ...row, fingerprint: 'a\u0000b' }] })
      .catch((e: unknown) => e);
    expect(String(hostile)).toContain('alumnos[0].fingerprint');
    expect(await probe()).toMatchObject({ resultado: 'sin_cambios' });

    for (const extra of [{ probe: true }, { dryRun: true }, { diferirMarca: true }]) {
      const err = await h.alumnos
        .importAlumnos({ marcar: true, alumnos: [key], ...extra })
        .catch((e: unknown) => e);
      expect(String(err)).toContain('marcar');
    }
  });

  it('a call whose events were not stored is repaired by the retry, not lost', async () => {
    const row: Imported = {
      originalId: 10n,
      tipoDocumento: 'DNI',
      dni: '30999888',
      nombre: 'Ana',
      apellido: 'Reintento',
      estado: Estado.ASPIRANTE,
      fingerprint: 'huella-1',
    };
    const first = await h.alumnos.importAlumnos({ alumnos: [row] });
    expect(first.results[0]!.resultado).toBe('creado');
    const id = first.results[0]!.alumnoId;
    const syncs = async () =>
      (await readStream(h.t.handles, h.t.names.streams.evt, h.t.names.evt('alumno', 'updated'))).filter((m) =>
        m.header('Nats-Msg-Id')?.startsWith(`pylucy-import:${id}:sync:`),
      ).length;
    // Announced and marked: a repeated call announces nothing more.
    expect((await h.alumnos.importAlumnos({ alumnos: [row] })).results[0]!.resultado).toBe('sin_cambios');
    expect(await syncs()).toBe(0);
    // As a call that wrote the row and then failed to publish leaves it: stored, never marked as adopted.
    await alumnoTable(h.service.knex).where({ id }).update({ fingerprints: '{}' });
    const retry = await h.alumnos.importAlumnos({ alumnos: [row] });
    expect(retry.results[0]).toMatchObject({ resultado: 'sin_cambios', alumnoId: id });
    expect(await syncs()).toBe(1);
    // Marked now: once only.
    await h.alumnos.importAlumnos({ alumnos: [row] });
    expect(await syncs()).toBe(1);
  });
});
