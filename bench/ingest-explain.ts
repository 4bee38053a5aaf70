// ingest-sial, where the upsert's time goes: EXPLAIN ANALYZE of one 5,000-row statement (new rows, then the same
// rows changed) on a table already holding 100,000 alumnos, and the same statements timed with index sets removed.
// Run: node node_modules/tsx/dist/cli.mjs bench/ingest-explain.ts   (env N=100000 CHUNK=5000 REPEAT=3)
import { createOrm, migrate } from '@lucy/platform';
import { createTestDatabase } from '@lucy/testkit';
import { ingestOrm, upsertAlumnos, upsertStatement } from '@lucy/ingest-sial';
import { round, writeResult } from './lib.js';
import { syntheticUpsert } from './ingest-dataset.js';

const N = Number(process.env.N ?? 100_000);
const CHUNK = Number(process.env.CHUNK ?? 5000);
const REPEAT = Number(process.env.REPEAT ?? 3);

interface Conn {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

const db = await createTestDatabase('bench_ingest_explain');
const orm = await createOrm({ url: db.url, ...ingestOrm });
try {
  await migrate(orm, 'ingest');
  const knex = orm.em.getKnex();
  await upsertAlumnos(
    knex,
    Array.from({ length: N }, (_, i) => syntheticUpsert(i)),
    CHUNK,
  );
  await knex.raw('vacuum analyze ingest.alumno');
  const client = knex.client as {
    acquireConnection(): Promise<Conn>;
    releaseConnection(c: Conn): Promise<void>;
  };
  const conn = await client.acquireConnection();
  const fresh = upsertStatement(Array.from({ length: CHUNK }, (_, i) => syntheticUpsert(N + 10 + i)));
  const changed = upsertStatement(Array.from({ length: CHUNK }, (_, i) => syntheticUpsert(i, 1)));
  const same = upsertStatement(Array.from({ length: CHUNK }, (_, i) => syntheticUpsert(i, 0)));

  const explain = async (s: { text: string; values: unknown[][] }) => {
    await conn.query('begin');
    const rows = (await conn.query(`explain (analyze, buffers, timing) ${s.text}`, s.values)).rows;
    await conn.query('rollback');
    return rows.map((r) => String(r['QUERY PLAN']));
  };

  const plans = {
    insert: await explain(fresh),
    update: await explain(changed),
    unchanged: await explain(same),
  };
  const variants: Record<string, string[]> = {
    'all indexes (migration)': [],
    'without GIN on carreras': ['alumno_carreras_idx'],
    'without GIN and the two lower(email) indexes': [
      'alumno_carreras_idx',
      'alumno_email_personal_idx',
      'alumno_email_institucional_idx',
    ],
    'only primary key and unique (tipo_documento, dni)': [
      'alumno_carreras_idx',
      'alumno_email_personal_idx',
      'alumno_email_institucional_idx',
      'alumno_apellido_nombre_idx',
      'alumno_estado_idx',
      'alumno_cohorte_idx',
      'alumno_dni_idx',
    ],
  };
  const timings: Record<string, { insertMs: number; updateMs: number; unchangedMs: number }> = {};
  for (const [label, drop] of Object.entries(variants)) {
    await conn.query('begin');
    for (const ix of drop) await conn.query(`drop index ingest.${ix}`);
    await conn.query('savepoint v');
    const one = async (s: { text: string; values: unknown[][] }) => {
      const ms: number[] = [];
      for (let r = 0; r < REPEAT; r++) {
        const t0 = performance.now();
        await conn.query(s.text, s.values);
        ms.push(performance.now() - t0);
        await conn.query('rollback to savepoint v');
      }
      return round(ms.sort((a, b) => a - b)[Math.floor(ms.length / 2)]!);
    };
    timings[label] = {
      insertMs: await one(fresh),
      updateMs: await one(changed),
      unchangedMs: await one(same),
    };
    await conn.query('rollback');
    process.stderr.write(`${label}: ${JSON.stringify(timings[label])}\n`);
  }
  await client.releaseConnection(conn);
  writeResult('ingest-explain', { rowsInTable: N, chunkSize: CHUNK, repeat: REPEAT, timings, plans });
} finally {
  await orm.close(true);
  await db.drop();
}
