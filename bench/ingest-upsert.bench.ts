// ingest-sial, upsert stage: the service's bulk upsert vs a naive one-record-at-a-time ORM upsert.
// Run: node node_modules/tsx/dist/cli.mjs bench/ingest-upsert.bench.ts   (env N=100000 NAIVE_N=5000 CHUNK=1000 IN_FLIGHT=2)
import { createOrm, migrate } from '@lucy/platform';
import { createTestDatabase } from '@lucy/testkit';
import { AlumnoEntitySchema, ingestOrm, upsertAlumnos, type AlumnoUpsert } from '@lucy/ingest-sial';
import { round, withResources, writeResult } from './lib.js';
import { syntheticUpsert } from './ingest-dataset.js';

const N = Number(process.env.N ?? 100_000);
const NAIVE_N = Number(process.env.NAIVE_N ?? 5_000);
const CHUNK = Number(process.env.CHUNK ?? 1000);
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 2);

const db = await createTestDatabase('bench_ingest_upsert');
const orm = await createOrm({ url: db.url, ...ingestOrm });
try {
  await migrate(orm, 'ingest');
  const knex = orm.em.getKnex();
  const rows = (revision: number): AlumnoUpsert[] =>
    Array.from({ length: N }, (_, i) => syntheticUpsert(i, revision));

  // Warm-up: connections, plans (its rows are outside the measured DNI range and stay).
  await upsertAlumnos(
    knex,
    Array.from({ length: 2000 }, (_, i) => syntheticUpsert(N + NAIVE_N + i)),
    CHUNK,
  );

  const inserts = rows(0);
  const insert = await withResources(() => upsertAlumnos(knex, inserts, CHUNK, IN_FLIGHT));
  const updates = rows(1);
  const update = await withResources(() => upsertAlumnos(knex, updates, CHUNK, IN_FLIGHT));

  // The naive baseline: what an ORM-per-record loop does — one INSERT … ON CONFLICT round trip per alumno.
  const naiveRows = Array.from({ length: NAIVE_N }, (_, i) => syntheticUpsert(N + i));
  const naive = await withResources(async () => {
    const em = orm.em.fork();
    for (const [i, r] of naiveRows.entries()) {
      await em.upsert(
        AlumnoEntitySchema,
        {
          id: r.id,
          tipoDocumento: r.values.tipo_documento,
          dni: r.values.dni,
          nombre: r.values.nombre,
          apellido: r.values.apellido,
          emailPersonal: r.values.email_personal,
          fechaNacimiento: r.values.fecha_nacimiento,
          cohorte: r.values.cohorte,
          localidad: r.values.localidad,
          telefono: r.values.telefono,
          estado: r.values.estado,
          modalidad: r.values.modalidad,
          carreras: r.values.carreras,
          teamsProcesado: false,
          moodleProcesado: false,
          emailProcesado: false,
          fingerprints: { aspirantes: r.fingerprint!.value },
          createdAt: r.now,
          updatedAt: r.now,
        },
        {
          onConflictFields: ['tipoDocumento', 'dni'],
          onConflictAction: 'merge',
          onConflictExcludeFields: [
            'id',
            'createdAt',
            'emailInstitucional',
            'teamsProcesado',
            'moodleProcesado',
            'emailProcesado',
          ],
        },
      );
      if (i % 500 === 499) em.clear();
    }
  });

  const counted: { n: string | number }[] = await knex.withSchema('ingest').table('alumno').count({ n: '*' });
  const n = counted[0]?.n ?? 0;
  const perSecond = (count: number, seconds: number) => Math.round(count / seconds);
  const bulkInsertRps = perSecond(N, insert.seconds);
  const bulkUpdateRps = perSecond(N, update.seconds);
  const naiveRps = perSecond(NAIVE_N, naive.seconds);
  writeResult('ingest-upsert', {
    dataset: `${N} synthetic alumnos (DNI 40000000+i, one carrera with one comisión, SIAL shape); update pass changes telefono and comisión of every row`,
    chunkSize: CHUNK,
    statementsInFlight: IN_FLIGHT,
    rowsInTable: Number(n),
    bulk: {
      insert: {
        records: N,
        seconds: insert.seconds,
        recordsPerSecond: bulkInsertRps,
        peakRssMb: insert.peakRssMb,
      },
      update: {
        records: N,
        seconds: update.seconds,
        recordsPerSecond: bulkUpdateRps,
        peakRssMb: update.peakRssMb,
      },
    },
    naive: {
      records: NAIVE_N,
      seconds: naive.seconds,
      recordsPerSecond: naiveRps,
      extrapolatedSecondsFor: { records: N, seconds: round(N / naiveRps) },
      note: `measured on ${NAIVE_N} records (new rows, MikroORM em.upsert one at a time) and extrapolated linearly to ${N}`,
    },
    ratio: { insert: round(bulkInsertRps / naiveRps), update: round(bulkUpdateRps / naiveRps) },
    target: { recordsPerSecond: 20_000, met: Math.min(bulkInsertRps, bulkUpdateRps) >= 20_000 },
  });
} finally {
  await orm.close(true);
  await db.drop();
}
