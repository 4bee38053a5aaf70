import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TipoIngesta } from '@lucy/proto';
import { upsertAlumnos, type AlumnoUpsert } from '../src/db/alumno.repository.js';
import { startHarness, type Harness } from './harness.js';

const SIZES = { preinscriptos: 200, aspirantes: 5, ingresantes: 5 };

describe('a bad SIAL record is a bad record', () => {
  let h: Harness;
  let nul: number;
  let long: number;

  beforeAll(async () => {
    h = await startHarness({ sizes: SIZES }, 'ingest_bad_records');
    nul = h.fake.record('preinscriptos', 17)!.dni;
    long = h.fake.record('preinscriptos', 151)!.dni;
    h.fake.patch('preinscriptos', nul, { personal: { apellido: 'Pé\u0000rez' } });
    h.fake.patch('preinscriptos', long, { personal: { telefono: '3'.repeat(121) } });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('PlanIngesta says what the run will do: 198 created, 2 discarded', async () => {
    const res = await h.ingest.planIngesta({ tipo: TipoIngesta.PREINSCRIPTOS });
    expect(res.resumen).toMatchObject({
      recibidos: 200,
      creados: 198,
      descartados: 2,
      errores: { datos_invalidos: 2 },
    });
    expect(Number((await h.alumnos.listAlumnos({})).page!.totalEstimate)).toBe(0);
  });

  it('saves the 198 good records of 200 and reports the NUL apellido and the 121-character telefono', async () => {
    await h.openWindow(TipoIngesta.PREINSCRIPTOS);
    const taskId = await h.runPeriodic('preinscriptos');
    const d = (await h.succeeded(taskId)).detalles as Record<string, unknown> & {
      errores: Record<string, number>;
      errores_detalle: { mensaje: string }[];
    };
    expect(d).toMatchObject({ recibidos: 200, creados: 198, descartados: 2 });
    expect(d.errores.datos_invalidos).toBe(2);
    expect(Number((await h.alumnos.listAlumnos({})).page!.totalEstimate)).toBe(198);
    await expect(h.alumnos.getAlumno({ dni: String(nul) })).rejects.toThrow(/No existe/);
    await expect(h.alumnos.getAlumno({ dni: String(long) })).rejects.toThrow(/No existe/);

    const errors = (await h.logs(taskId)).filter((l) => l.nivel === 'ERROR');
    expect(errors.map((l) => l.message).sort()).toEqual(
      [
        `DNI ${nul}: apellido contiene un carácter nulo (NUL); el registro no se guardó`,
        `DNI ${long}: telefono tiene 121 caracteres (máximo 100); el registro no se guardó`,
      ].sort(),
    );
    expect(errors[0]!.module).toBe('ingest_sial');
    expect(errors[0]!.detalles).toMatchObject({ categoria: 'datos_invalidos', descartado: true });
  });

  it('isolates a row Postgres refuses by halving its batch and writes every other row', async () => {
    const now = new Date();
    const row = (dni: string, telefono: string): AlumnoUpsert => ({
      id: crypto.randomUUID(),
      now,
      fingerprint: undefined,
      values: {
        tipo_documento: 'DNI',
        dni,
        nombre: 'Ana',
        apellido: 'Pérez',
        email_personal: null,
        fecha_nacimiento: null,
        cohorte: null,
        localidad: null,
        telefono,
        estado: 'preinscripto',
        fecha_ingreso: null,
        estado_ingreso: null,
        modalidad: null,
        carreras: null,
      },
    });
    const rows = Array.from({ length: 37 }, (_, i) => row(String(90_000_000 + i), '351'));
    rows[11] = row('90000011', '9'.repeat(101));
    rows[30] = row('90000030', 'a\u0000b');
    const rejected = await upsertAlumnos(h.service.knex, rows, 16);
    expect(rejected.map((r) => r.row.values.dni).sort()).toEqual(['90000011', '90000030']);
    expect(rejected.find((r) => r.row.values.dni === '90000011')!.reason).toMatch(/too long.*\(22001\)/);
    const [saved] = await h.service
      .knex('alumno')
      .withSchema('ingest')
      .where('dni', 'like', '9000%')
      .count<{ n: string }[]>({ n: '*' });
    expect(Number(saved!.n)).toBe(35);
  });
});
