import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { Estado, ExportFormat, TipoIngesta } from '@lucy/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { AlumnoFilterSchema } from '@lucy/proto';
import { TEST_TOKEN } from '@lucy/testkit';
import { alumnoTable } from '../src/db/alumno.repository.js';
import { startHarness, type Harness } from './harness.js';

const ASPIRANTES = 30;
const ROOT = resolve(import.meta.dirname, '../../..');
const run = promisify(execFile);

describe('the Alumno registry: filters, exports and the lucy CLI', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness(
      { sizes: { preinscriptos: 1, aspirantes: ASPIRANTES, ingresantes: 1 } },
      'ingest_alumnos',
    );
    await h.openWindow(TipoIngesta.ASPIRANTES);
    await h.succeeded(await h.runPeriodic('aspirantes'));
    // Institutional e-mails are not the ingestion's: another service sets them.
    const ids = (await alumnoTable(h.service.knex).select('id').orderBy('dni').limit(4)) as { id: string }[];
    for (const { id } of ids)
      await alumnoTable(h.service.knex)
        .where({ id })
        .update({ email_institucional: `${id.slice(-6)}@fce.edu.ar` });
    await alumnoTable(h.service.knex).where({ id: ids[0]!.id }).update({ email_personal: null });
  });

  afterAll(async () => {
    await h?.stop();
  });

  const count = async (filter: MessageInitShape<typeof AlumnoFilterSchema>) =>
    Number((await h.alumnos.listAlumnos({ filter, page: { pageSize: 500 } })).page!.totalEstimate);
  const all = async () => (await h.alumnos.listAlumnos({ page: { pageSize: 500 } })).alumnos;

  it('filters by carrera and cohorte', async () => {
    const alumnos = await all();
    expect(alumnos).toHaveLength(ASPIRANTES);
    const carrera = alumnos[0]!.carreras[0]!.idCarrera;
    const expected = alumnos.filter((a) => a.carreras.some((c) => c.idCarrera === carrera)).length;
    expect(await count({ idCarrera: carrera })).toBe(expected);
    expect(expected).toBeLessThan(ASPIRANTES + 1);
    const cohorte = alumnos.find((a) => a.cohorte)!.cohorte;
    expect(await count({ cohorte })).toBe(alumnos.filter((a) => a.cohorte === cohorte).length);
    expect(await count({ cohorte, estados: [Estado.INGRESANTE] })).toBe(0);
  });

  it('filters by institutional and any e-mail', async () => {
    expect(await count({ conEmailInstitucional: true })).toBe(4);
    expect(await count({ conEmailInstitucional: false })).toBe(ASPIRANTES - 4);
    const sinPersonal = (await all()).filter((a) => !a.emailPersonal && !a.emailInstitucional).length;
    expect(await count({ conAlgunEmail: false })).toBe(sinPersonal);
    expect(await count({ conAlgunEmail: true })).toBe(ASPIRANTES - sinPersonal);
  });

  it('searches by DNI and by apellido', async () => {
    const [a] = await all();
    const byDni = await h.alumnos.listAlumnos({ filter: { search: a!.dni } });
    expect(byDni.alumnos.map((x) => x.id)).toEqual([a!.id]);
    const apellido = a!.apellido.trim().toLowerCase();
    const byApellido = await h.alumnos.listAlumnos({ filter: { search: apellido } });
    expect(byApellido.alumnos.map((x) => x.id)).toContain(a!.id);
    expect(
      byApellido.alumnos.every((x) => `${x.apellido} ${x.nombre}`.toLowerCase().includes(apellido)),
    ).toBe(true);
  });

  it('exports XLSX as a readable workbook', async () => {
    const filter: MessageInitShape<typeof AlumnoFilterSchema> = { conEmailInstitucional: true };
    const chunks: Uint8Array[] = [];
    let filename = '';
    for await (const part of h.alumnos.exportAlumnos({ filter, format: ExportFormat.XLSX })) {
      if (part.filename) filename = part.filename;
      chunks.push(part.chunk);
    }
    expect(filename).toMatch(/\.xlsx$/);
    const wb = new ExcelJS.Workbook();
    // exceljs's typings predate Buffer<ArrayBufferLike>.
    await wb.xlsx.load(Buffer.concat(chunks) as unknown as ExcelJS.Buffer);
    const ws = wb.getWorksheet('Alumnos')!;
    expect(ws.rowCount).toBe(1 + 4);
    const header = (ws.getRow(1).values as unknown[]).slice(1);
    expect(header).toEqual(expect.arrayContaining(['dni', 'apellido', 'email_institucional']));
    const col = header.indexOf('email_institucional') + 1;
    for (let r = 2; r <= ws.rowCount; r++) expect(ws.getRow(r).getCell(col).text).toMatch(/@fce\.edu\.ar$/);
  });

  describe('lucy CLI (a real process)', () => {
    // Each process costs seconds of tsx start-up on a small machine: start both at once, assert separately.
    let list: Promise<{ stdout: string }>;
    let config: Promise<{ stdout: string }>;
    beforeAll(() => {
      const lucy = (...args: string[]) =>
        run(
          process.execPath,
          [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'services/cli/src/main.ts', ...args],
          {
            cwd: ROOT,
            env: {
              ...process.env,
              LUCY_INGEST_URL: h.service.rpc.url,
              LUCY_TOKEN: TEST_TOKEN,
              LUCY_USER: 'cli-test',
            },
          },
        );
      list = lucy('alumnos', 'list', '--json', '--con-email-institucional', 'si');
      config = lucy('ingest', 'config', 'show');
      // Failures are asserted in the tests below.
      list.catch(() => undefined);
      config.catch(() => undefined);
    });

    it('lists alumnos as JSON', async () => {
      const out = JSON.parse((await list).stdout) as {
        alumnos: { email_institucional: string }[];
        total: number;
      };
      expect(out.total).toBe(4);
      expect(out.alumnos.every((a) => a.email_institucional.endsWith('@fce.edu.ar'))).toBe(true);
    });

    it('shows the configuration as a table', async () => {
      const { stdout } = await config;
      const lines = stdout.split('\n');
      expect(lines[0]).toMatch(/^TIPO\s+INICIO\s+FIN/);
      expect(lines.some((l) => l.startsWith('aspirantes') && l.includes(String(ASPIRANTES)))).toBe(true);
      expect(stdout).toContain('SIAL:');
    });
  });
});
