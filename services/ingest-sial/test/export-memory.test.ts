import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { knex as createKnex, type Knex } from '@mikro-orm/postgresql';
import { createRpcClient } from '@lucy/platform';
import { AlumnoService, ExportFormat, IngestService } from '@lucy/proto';
import {
  createTestDatabase,
  createTestNats,
  TEST_TOKEN,
  testEnv,
  waitFor,
  type TestDatabase,
  type TestNats,
  freePort,
} from '@lucy/testkit';

const ROWS = 100_000;
const ROOT = resolve(import.meta.dirname, '..');

/** One entry of a zip archive (an XLSX), found through the central directory and inflated. */
function zipEntry(zip: Buffer, name: string): Buffer {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < zip.readUInt16LE(end + 10); i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const entry = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (entry === name) {
      const local = zip.readUInt32LE(at + 42);
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      return inflateRawSync(zip.subarray(start, start + zip.readUInt32LE(at + 20)));
    }
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  throw new Error(`${name} is not in the archive`);
}

/**
 * ingest-sial as deployed (a 256 MB heap, the chart's NODE_OPTIONS) in a process of its own, exporting 100,000
 * alumnos: a workbook built in memory died at 50,000.
 */
describe('exports stream', () => {
  let db: TestDatabase;
  let t: TestNats;
  let child: ChildProcess;
  let exited: number | null | undefined;
  let url: string;
  let sql: Knex;

  beforeAll(async () => {
    db = await createTestDatabase('ingest_export');
    t = await createTestNats();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    child = spawn(
      process.execPath,
      ['--max-old-space-size=256', '--import', 'tsx', join(ROOT, 'src/main.ts')],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          ...testEnv({
            DATABASE_URL: db.url,
            LUCY_PREFIX: t.prefix,
            MIGRATE_ON_START: 'true',
            RPC_PORT: String(port),
            SIAL_BASE_URL: 'http://127.0.0.1:9',
            SIAL_USER: 'usuario',
            SIAL_PASSWORD: 'contrasena',
            LOG_LEVEL: process.env.EXPORT_TEST_LOG_LEVEL ?? 'error',
            // The 100,000 rows below are exactly the cap: one more is refused.
            EXPORT_MAX_ROWS: String(ROWS),
          }),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    child.once('exit', (code) => (exited = code));
    const ingest = createRpcClient(IngestService, { baseUrl: url, token: TEST_TOKEN });
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`ingest-sial exited with ${exited}`);
        return ingest.getConfiguracion({}, { timeoutMs: 3000 }).then(
          () => true,
          () => undefined,
        );
      },
      { what: 'ingest-sial in its own process', timeoutMs: 60_000, intervalMs: 250 },
    );
    sql = createKnex({ client: 'pg', connection: db.url, pool: { min: 0, max: 1 } });
    await sql.raw(
      `insert into ingest.alumno (id, tipo_documento, dni, nombre, apellido, estado, telefono, localidad, cohorte, carreras)
       select gen_random_uuid(), 'DNI', (50000000 + g)::text, 'Nombre ' || g, 'Apellido ' || (g % 997), 'aspirante',
              '351' || g, 'Río Cuarto', 2020 + g % 6,
              jsonb_build_array(jsonb_build_object('id_carrera', 2, 'nombre_carrera', 'CONTADOR PÚBLICO'))
       from generate_series(1, ${ROWS}) g`,
    );
  }, 120_000);

  afterAll(async () => {
    if (child && exited === undefined) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    await sql?.destroy();
    await t?.cleanup();
    await db?.drop();
  });

  it('exports 100,000 alumnos as XLSX under a 256 MB heap, in chunks as they are produced', async () => {
    const alumnos = createRpcClient(AlumnoService, { baseUrl: url, token: TEST_TOKEN });
    const chunks: Uint8Array[] = [];
    let filename = '';
    for await (const part of alumnos.exportAlumnos({ format: ExportFormat.XLSX })) {
      if (chunks.length === 0) filename = part.filename;
      expect(part.chunk.length).toBeLessThanOrEqual(64 * 1024);
      chunks.push(part.chunk);
    }
    expect(filename).toMatch(/^alumnos-\d{4}-\d{2}-\d{2}\.xlsx$/);
    expect(chunks.length).toBeGreaterThan(20);
    const sheet = zipEntry(Buffer.concat(chunks), 'xl/worksheets/sheet1.xml').toString('utf8');
    expect(sheet.split('<row ').length - 1).toBe(ROWS + 1);
    // Booleans, not the 20 MB text: a failed match must not make vitest diff it.
    expect(sheet.includes('CONTADOR PÚBLICO')).toBe(true);
    expect(sheet.includes('Apellido 996')).toBe(true);
    expect(exited).toBeUndefined();
  }, 120_000);

  it('refuses an export over the row cap with a Spanish message naming the filter', async () => {
    const alumnos = createRpcClient(AlumnoService, { baseUrl: url, token: TEST_TOKEN });
    await sql.raw(
      `insert into ingest.alumno (id, tipo_documento, dni, estado) values (gen_random_uuid(), 'PAS', 'X1', 'aspirante')`,
    );
    const err = await (async () => {
      for await (const _ of alumnos.exportAlumnos({ format: ExportFormat.CSV })) void _;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).rawMessage).toBe(
      'filter: La exportación tendría 100.001 alumnos y el máximo es 100.000. Aplique filtros (estado, cohorte, carrera, modalidad…) y exporte por partes.',
    );
    let csv = '';
    for await (const part of alumnos.exportAlumnos({ format: ExportFormat.CSV, filter: { cohorte: 2021 } }))
      csv += Buffer.from(part.chunk).toString('utf8');
    const lines = csv.trim().split('\r\n');
    // g % 6 = 1 for g in 1..100,000: 16,667 alumnos, plus the header.
    expect(lines).toHaveLength(16_668);
    expect(lines[1]).toMatch(/^DNI,\d+,Apellido \d+,Nombre \d+,/);
  }, 60_000);
});
