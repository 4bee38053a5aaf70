import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
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
      created: 198,
      descartados: 2,
      errores_categorizados: { datos_invalidos: 2 },
    });
    expect(Number((await h.alumnos.listAlumnos({})).page!.totalEstimate)).toBe(0);
  });

  it('saves the 198 good records of 200 and reports the NUL apellido and the 121-character telefono', async () => {
    await h.openWindow(TipoIngesta.PREINSCRIPTOS);
    const taskId = await h.runPeriodic('preinscriptos');
    const d = (await h.succeeded(taskId)).detalles as Record<string, unknown> & {
      errores_categorizados: Record<string, number>;
      errores_detalle: { mensaje: string }[];
    };
    expect(d).toMatchObject({ recibidos: 200, created: 198, descartados: 2 });
    expect(d.errores_categorizados.datos_invalidos).toBe(2);
    expect(Number((await h.alumnos.listAlumnos({})).page!.totalEstimate)).toBe(198);
    await expect(h.alumnos.getAlumno({ dni: String(nul) })).rejects.toThrow(/No existe/);
    await expect(h.alumnos.getAlumno({ dni: String(long) })).rejects.toThrow(/No existe/);

    const logs = await h.logs(taskId);
    expect(logs.filter((l) => l.nivel === 'WARNING').map((l) => l.message)).toContain(
      'Ingesta de preinscriptos: 198 creados, 0 actualizados, 0 sin cambios, 2 errores',
    );
    const errors = logs.filter((l) => l.nivel === 'ERROR');
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

  it('keeps one person one alumno when an entry loses its tipodoc, and never guesses between several', async () => {
    const [pas, both] = h.fake.addRecords('preinscriptos', 2) as [number, number];
    for (const dni of [pas, both]) h.fake.patch('preinscriptos', dni, { list: { tipodoc: 'PAS' } });
    const first = (await h.succeeded(await h.runPeriodic('preinscriptos'))).detalles as Record<
      string,
      number
    >;
    expect(first.created).toBe(2);
    // Someone with the same number as a DNI: now two alumnos could be meant.
    const other = (await h.alumnos.getAlumno({ dni: String(h.fake.record('preinscriptos', 0)!.dni) }))
      .alumno!;
    await h.service
      .knex('alumno')
      .withSchema('ingest')
      .insert({
        id: crypto.randomUUID(),
        tipo_documento: 'DNI',
        dni: String(both),
        estado: 'preinscripto',
        nombre: other.nombre,
      });
    for (const dni of [pas, both]) h.fake.patch('preinscriptos', dni, { removeFromList: ['tipodoc'] });
    const taskId = await h.runPeriodic('preinscriptos');
    const d = (await h.succeeded(taskId)).detalles as Record<string, unknown> & {
      errores_categorizados: Record<string, number>;
    };
    expect(d.created).toBe(0);
    const rows = await h.service
      .knex('alumno')
      .withSchema('ingest')
      .whereIn('dni', [String(pas), String(both)])
      .select<{ tipo_documento: string; dni: string }[]>('tipo_documento', 'dni');
    expect(rows.filter((r) => r.dni === String(pas)).map((r) => r.tipo_documento)).toEqual(['PAS']);
    expect(
      rows
        .filter((r) => r.dni === String(both))
        .map((r) => r.tipo_documento)
        .sort(),
    ).toEqual(['DNI', 'PAS']);
    const errors = (await h.logs(taskId)).filter((l) => l.nivel === 'ERROR').map((l) => l.message);
    expect(errors).toContain(
      `Documento ${both}: SIAL no envió tipodoc y hay 2 alumnos con ese número (DNI, PAS); no se adivina cuál es, el registro no se guardó`,
    );
  });

  const refused = async (call: Promise<unknown>): Promise<ConnectError> => {
    const err = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    return err as ConnectError;
  };

  it('refuses RPC inputs out of bounds as InvalidArgument naming the field, never Internal', async () => {
    const rate = await refused(
      h.ingest.updateConfiguracion({ configuracion: { sialRequestsPorSegundo: 1e-300 }, requestedBy: 'x' }),
    );
    expect(rate.rawMessage).toMatch(
      /^sialRequestsPorSegundo: Debe ser 0 \(sin límite\) o un número entre 0,1/,
    );
    expect((await refused(h.alumnos.listAlumnos({ filter: { search: 'pe\u0000rez' } }))).rawMessage).toMatch(
      /^filter\.search: Contiene caracteres no válidos/,
    );
    expect((await refused(h.alumnos.listAlumnos({ filter: { search: 'x'.repeat(5000) } }))).rawMessage).toBe(
      'filter.search: Admite como máximo 200 caracteres (llegaron 5000).',
    );
    for (const pageToken of [
      '%%%',
      Buffer.from('o:99999999999999999999').toString('base64url'),
      'x'.repeat(100),
    ])
      expect((await refused(h.alumnos.listAlumnos({ page: { pageToken } }))).rawMessage).toMatch(
        /^page\.pageToken: /,
      );
    expect((await refused(h.alumnos.getAlumno({ dni: '1\u0000' }))).rawMessage).toMatch(/^dni: /);
    expect(
      (await refused(h.ingest.startIngesta({ tipo: TipoIngesta.ASPIRANTES, requestedBy: 'u'.repeat(151) })))
        .rawMessage,
    ).toMatch(/^requestedBy: Admite como máximo 150/);
    // Within bounds, the same calls work.
    await h.ingest.updateConfiguracion({ configuracion: { sialRequestsPorSegundo: 0.5 }, requestedBy: 'x' });
    await h.alumnos.listAlumnos({ filter: { search: 'pérez' } });
  });
});
