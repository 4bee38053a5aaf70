/**
 * The client and the domain together against the fake, with an in-memory store standing in for the database:
 * proves the pieces fit (Córdoba path dates, fingerprint rule, merge) before the service wires them to Postgres.
 */
import { createFakeSial, type FakeSial } from '@lucy/fake-sial';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createIngestTally,
  incrementalRange,
  mapSialAlumno,
  nextCheckpoint,
  mergeAlumno,
  parsePersonalData,
  personalDataError,
  prepareListBatch,
  shouldFetchPersonalData,
  type AlumnoIngestFields,
  type IngestDetalles,
  type SialPersonalData,
  type Tipo,
} from '../domain/index.js';
import { mapWithConcurrency } from './concurrency.js';
import { createSialClient, type SialClient } from './sial.client.js';

interface Store {
  alumnos: Map<string, AlumnoIngestFields>;
  fingerprints: Map<string, string>;
  checkpoint?: Date;
}

/** One ingestion run, the way the service is expected to compose the pieces. */
async function runIngest(sial: SialClient, store: Store, tipo: Tipo, now: Date): Promise<IngestDetalles> {
  const tally = createIngestTally();
  const range = incrementalRange({ checkpoint: store.checkpoint, now });
  const raw = await sial.listar(
    tipo,
    range.modo === 'completo' ? {} : { desde: range.desde!, hasta: range.hasta },
  );
  tally.received(raw.length);
  const batch = prepareListBatch(tipo, raw);
  batch.rejected.forEach((e) => {
    tally.error(e);
    tally.discarded();
  });
  await mapWithConcurrency(batch.items, 8, async ({ item, fingerprint, issues }) => {
    issues.forEach((e) => tally.error(e));
    const key = `${item.tipodoc} ${item.nrodoc}`;
    const existing = store.alumnos.get(key);
    const decision = shouldFetchPersonalData({
      existing,
      storedFingerprint: store.fingerprints.get(`${tipo}:${key}`),
      fingerprint,
    });
    let personal: SialPersonalData | null = null;
    let personalOk = !decision.fetch;
    if (decision.fetch) {
      tally.personalDataFetched();
      try {
        const parsed = parsePersonalData(await sial.datosPersonales(item.nrodoc), item);
        if (parsed.ok) {
          personal = parsed.value;
          personalOk = true;
          parsed.issues.forEach((e) => tally.error(e));
        } else tally.error(parsed.error);
      } catch (err) {
        tally.error(personalDataError(item, err));
      }
    }
    const result = mergeAlumno(existing, mapSialAlumno(item, personal), tipo);
    tally.outcome(result.kind);
    if (result.kind !== 'unchanged') store.alumnos.set(key, result.values);
    if (personalOk) store.fingerprints.set(`${tipo}:${key}`, fingerprint);
  });
  const detalles = tally.toDetalles();
  store.checkpoint = nextCheckpoint({
    previous: store.checkpoint,
    range,
    erroresSial: detalles.errores_categorizados.sial,
    recibidos: detalles.recibidos,
  });
  return detalles;
}

let fake: FakeSial | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('SIAL ingestion flow against the fake', () => {
  it('fetches personal data only for new or changed records and never blanks on failures', async () => {
    let now = new Date('2026-01-15T13:00:00Z');
    fake = await createFakeSial({
      now: () => now,
      sizes: { preinscriptos: 120, aspirantes: 60, ingresantes: 10 },
    });
    const sial = createSialClient({ baseUrl: fake.url, user: 'usuario', password: 'contrasena', retries: 0 });
    const store: Store = { alumnos: new Map(), fingerprints: new Map() };

    now = new Date('2026-01-15T13:10:00Z');
    const first = await runIngest(sial, store, 'preinscriptos', now);
    expect(first).toMatchObject({
      recibidos: 120,
      created: 120,
      datos_personales_consultados: 120,
      errors: 0,
    });
    expect(fake.state().requests.personal).toBe(120);

    now = new Date('2026-01-15T14:00:00Z');
    const touched = fake.touch('preinscriptos', 3, { change: 'list' });
    fake.addRecords('preinscriptos', 2);
    fake.setFaults({ status500: { count: 1, endpoints: 'personal' } });
    now = new Date('2026-01-15T14:10:00Z');
    const second = await runIngest(sial, store, 'preinscriptos', now);
    expect(second).toMatchObject({
      recibidos: 5,
      created: 2,
      updated: 3,
      datos_personales_consultados: 5,
      errores_categorizados: { sial: 1 },
    });
    expect(fake.state().requests.personal).toBe(125);

    for (const dni of touched) {
      const alumno = store.alumnos.get(`DNI ${dni}`)!;
      expect(alumno.nombre).not.toBeNull();
      expect(alumno.apellido).toBe(alumno.apellido?.trim());
    }

    // The failure held the checkpoint back: the same window is listed again, and only the record that lost its
    // personal data is fetched (the others' fingerprints were stored).
    now = new Date('2026-01-15T15:00:00Z');
    const third = await runIngest(sial, store, 'preinscriptos', now);
    expect(third).toMatchObject({ recibidos: 5, datos_personales_consultados: 1, errors: 0 });
    expect(fake.state().requests.personal).toBe(126);
    expect([...store.alumnos.values()].every((a) => a.nombre !== null)).toBe(true);

    now = new Date('2026-01-15T16:00:00Z');
    const fourth = await runIngest(sial, store, 'preinscriptos', now);
    expect(fourth).toMatchObject({ recibidos: 0, datos_personales_consultados: 0 });
    // An empty answer confirms nothing: the checkpoint stays at the third run's hasta.
    expect(store.checkpoint).toEqual(new Date('2026-01-15T15:00:00Z'));
  });
});
