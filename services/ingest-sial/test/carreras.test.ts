/**
 * AlumnoService.ListCarreras (issue 13, the admin's carrera select): every carrera the stored alumnos have, once,
 * with its name and how many alumnos are enrolled — the same count the carrera filter gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TipoIngesta } from '@lucy/proto';
import { alumnoTable } from '../src/db/alumno.repository.js';
import { startHarness, type Harness } from './harness.js';

describe('ListCarreras', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      { sizes: { preinscriptos: 1, aspirantes: 20, ingresantes: 1 } },
      'ingest_carreras',
    );
    await h.openWindow(TipoIngesta.ASPIRANTES);
    await h.succeeded(await h.runPeriodic('aspirantes'));
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('lists each carrera present once, named, with the count the filter gives', async () => {
    const { alumnos } = await h.alumnos.listAlumnos({ page: { pageSize: 500 } });
    const expected = new Map<bigint, string>();
    for (const a of alumnos) for (const c of a.carreras) expected.set(c.idCarrera, c.nombreCarrera);
    const { carreras } = await h.alumnos.listCarreras({});
    expect(carreras.map((c) => c.idCarrera).sort()).toEqual([...expected.keys()].sort());
    for (const c of carreras) {
      expect(c.nombreCarrera).toBe(expected.get(c.idCarrera));
      const filtered = await h.alumnos.listAlumnos({
        filter: { idCarrera: c.idCarrera },
        page: { pageSize: 500 },
      });
      expect(Number(c.alumnos)).toBe(filtered.alumnos.length);
    }
    // Sorted by name for the select.
    const names = carreras.map((c) => c.nombreCarrera);
    expect(names).toEqual([...names].sort((a, b) => a.localeCompare(b, 'es')));
  });

  it('counts an id SIAL sent as text with the same id sent as a number, and ignores malformed entries', async () => {
    const [a, b] = (await alumnoTable(h.service.knex).select('id', 'carreras').limit(2)) as {
      id: string;
      carreras: { id_carrera: unknown; nombre_carrera: string }[];
    }[];
    const first = a!.carreras[0]!;
    await alumnoTable(h.service.knex)
      .where({ id: b!.id })
      .update({
        carreras: JSON.stringify([
          { ...first, id_carrera: String(first.id_carrera) },
          { id_carrera: 'x1', nombre_carrera: 'Rota' },
          'no es un objeto',
        ]),
      });
    const { carreras } = await h.alumnos.listCarreras({});
    expect(carreras.filter((c) => c.idCarrera === BigInt(Number(first.id_carrera)))).toHaveLength(1);
    expect(carreras.map((c) => c.nombreCarrera)).not.toContain('Rota');
  });
});
