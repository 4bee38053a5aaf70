import { afterEach, describe, expect, it } from 'vitest';
import { createFakeSial, type FakeSial, type FakeSialOptions } from './fake-sial.server.js';
import type { FakeListRecord, FakePersonalRecord } from './population.js';
import { formatSialPathDate } from './sial-time.js';

const BASE = '/webservice/sial/V2/04';
const AUTH = `Basic ${Buffer.from('usuario:contrasena').toString('base64')}`;

let fake: FakeSial | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A mutable clock for the fake, starting at 2026-01-15 10:00 Córdoba time. */
function makeClock(start = '2026-01-15T13:00:00Z'): { now: () => Date; advance: (ms: number) => void } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t), advance: (ms) => (t += ms) };
}

async function start(options: FakeSialOptions = {}): Promise<FakeSial> {
  fake = await createFakeSial({ sizes: { preinscriptos: 50, aspirantes: 40, ingresantes: 30 }, ...options });
  return fake;
}

async function get(
  server: FakeSial,
  path: string,
  init: { auth?: string | null; signal?: AbortSignal } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const headers: Record<string, string> = {};
  const auth = init.auth === undefined ? AUTH : init.auth;
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(server.url + path, { headers, signal: init.signal });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as unknown };
}

async function list(server: FakeSial, suffix: string): Promise<FakeListRecord[]> {
  const res = await get(server, `${BASE}/${suffix}`);
  expect(res.status).toBe(200);
  return res.json() as FakeListRecord[];
}

describe('fake SIAL http surface', () => {
  it('answers /healthz without credentials', async () => {
    const server = await start();
    const res = await get(server, '/healthz', { auth: null });
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('rejects missing or wrong credentials with 401 and a Basic challenge', async () => {
    const server = await start();
    for (const auth of [null, `Basic ${Buffer.from('usuario:otra').toString('base64')}`]) {
      const res = await get(server, `${BASE}/preinscriptos/listas/`, { auth });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic');
      expect(res.json()).toEqual({ detail: 'Credenciales inválidas' });
    }
    expect(server.state().requests.unauthorized).toBe(2);
  });

  it('accepts custom credentials', async () => {
    const server = await start({ user: 'uti', password: 's3creta' });
    const auth = `Basic ${Buffer.from('uti:s3creta').toString('base64')}`;
    expect((await get(server, `${BASE}/aspirantes/listas/`, { auth })).status).toBe(200);
    expect((await get(server, `${BASE}/aspirantes/listas/`)).status).toBe(401);
  });

  it('changes the accepted credentials at runtime, over HTTP too, and reset restores the start ones', async () => {
    const server = await start();
    const path = `${BASE}/aspirantes/listas/`;
    const rotated = `Basic ${Buffer.from('usuario:rotada').toString('base64')}`;
    server.setCredentials({ user: 'usuario', password: 'rotada' });
    expect((await get(server, path)).status).toBe(401);
    expect((await get(server, path, { auth: rotated })).status).toBe(200);
    expect(() => server.setCredentials({ user: 'con:dos', password: 'x' })).toThrow(/user/);
    expect(() => server.setCredentials({ user: 'usuario', password: '' })).toThrow(/password/);

    const res = await fetch(`${server.url}/__fake/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'otro', password: 's3creta' }),
    });
    expect(res.status).toBe(200);
    expect((await get(server, path, { auth: rotated })).status).toBe(401);
    const otro = `Basic ${Buffer.from('otro:s3creta').toString('base64')}`;
    expect((await get(server, path, { auth: otro })).status).toBe(200);
    const bad = await fetch(`${server.url}/__fake/credentials`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'otro' }),
    });
    expect(bad.status).toBe(400);

    server.reset();
    expect((await get(server, path)).status).toBe(200);
    expect((await get(server, path, { auth: otro })).status).toBe(401);
  });

  it('returns 404 "Tipo no encontrado" for an unknown or differently cased tipo', async () => {
    const server = await start();
    for (const tipo of ['alumnos', 'Preinscriptos']) {
      const res = await get(server, `${BASE}/${tipo}/listas/`);
      expect(res.status).toBe(404);
      expect(res.json()).toEqual({ detail: 'Tipo no encontrado' });
    }
  });

  it('rejects dates that are not AAAAMMDDHHMM or AAAAMMDD, or not real dates', async () => {
    const server = await start();
    for (const fecha of ['2026-01-01', '20260101120', '20260231', '202601012460', 'hoy']) {
      const res = await get(server, `${BASE}/preinscriptos/listas/${fecha}`);
      expect(res.status, fecha).toBe(400);
      expect(res.json()).toEqual({ detail: 'Formato de fecha inválido (use AAAAMMDDHHMM)' });
    }
    expect((await get(server, `${BASE}/preinscriptos/listas/20260101`)).status).toBe(200);
    expect((await get(server, `${BASE}/preinscriptos/listas/202601011200/202601021200`)).status).toBe(200);
  });

  it('rejects a range whose desde is after hasta', async () => {
    const server = await start();
    const res = await get(server, `${BASE}/preinscriptos/listas/202601021200/202601011200`);
    expect(res.status).toBe(400);
  });

  it('returns the full list with the real record shapes', async () => {
    const server = await start();
    const records = await list(server, 'preinscriptos/listas/');
    expect(records).toHaveLength(50);
    for (const r of records) {
      expect(r.tipodoc).toBe('DNI');
      expect(typeof r.nrodoc).toBe('number');
      expect(r.carreras.length).toBeGreaterThanOrEqual(1);
      expect(r.carreras.length).toBeLessThanOrEqual(2);
      for (const c of r.carreras) {
        expect([2, 3, 4, 7, 8]).toContain(c.id_carrera);
        expect(c.fecha_inscri).toMatch(/^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/);
        expect(['1', '2']).toContain(c.modalidad);
        expect(c.cohorte === null || typeof c.cohorte === 'number').toBe(true);
        expect(c.comisiones.length).toBeLessThanOrEqual(2);
        for (const com of c.comisiones) expect(com.nombre_comision).toMatch(/^COMISION 0[1-5]$/);
      }
    }
    expect(new Set(records.map((r) => r.nrodoc)).size).toBe(50);
  });

  it('returns personal data as an array with one object whose nrodoc is a string', async () => {
    const server = await start();
    const [first] = await list(server, 'aspirantes/listas/');
    const res = await get(server, `${BASE}/alumnos/datospersonales/${first!.nrodoc}`);
    const body = res.json() as FakePersonalRecord[];
    expect(body).toHaveLength(1);
    expect(body[0]!.nrodoc).toBe(String(first!.nrodoc));
    expect(body[0]!.fecha_natal).toMatch(/^\d{2}\/\d{2}\/\d{2}$/);
    expect(['Río Cuarto', 'General Deheza', 'Córdoba', 'Villa María', 'San Luis', 'Moldes']).toContain(
      body[0]!.localidad,
    );
  });

  it('returns [] as personal data for an unknown or non-numeric nrodoc', async () => {
    const server = await start();
    expect((await get(server, `${BASE}/alumnos/datospersonales/12`)).json()).toEqual([]);
    expect((await get(server, `${BASE}/alumnos/datospersonales/abc`)).json()).toEqual([]);
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    // The dataset's dates are relative to the fake's clock, so the three share one instant (two servers made a
    // second apart would rightly differ by that second).
    const now = (): Date => new Date('2026-09-20T12:00:00.000Z');
    const a = await createFakeSial({ seed: 7, now, sizes: { preinscriptos: 20 } });
    const b = await createFakeSial({ seed: 7, now, sizes: { preinscriptos: 20 } });
    const c = await createFakeSial({ seed: 8, now, sizes: { preinscriptos: 20 } });
    try {
      const [la, lb, lc] = await Promise.all([a, b, c].map((s) => list(s, 'preinscriptos/listas/')));
      expect(la).toEqual(lb);
      expect(la).not.toEqual(lc);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('moves students forward: some aspirantes are preinscriptos and some ingresantes are aspirantes', async () => {
    const server = await start();
    const dnis = async (tipo: string): Promise<Set<number>> =>
      new Set((await list(server, `${tipo}/listas/`)).map((r) => r.nrodoc));
    const [pre, asp, ing] = [
      await dnis('preinscriptos'),
      await dnis('aspirantes'),
      await dnis('ingresantes'),
    ];
    const both = [...asp].filter((d) => pre.has(d));
    expect(both.length).toBeGreaterThan(0);
    expect(both.length).toBeLessThan(asp.size);
    expect([...ing].filter((d) => asp.has(d)).length).toBeGreaterThan(0);
  });
});

describe('fake SIAL modification windows', () => {
  it('returns only touched records in a since-window and a range-window', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now });
    expect(await list(server, `preinscriptos/listas/${formatSialPathDate(clock.now().getTime())}`)).toEqual(
      [],
    );

    clock.advance(10 * 60_000);
    const before = server.record('preinscriptos', 0)!;
    const touched = server.touch('preinscriptos', 3);
    server.touch('preinscriptos', [before.dni]);
    clock.advance(60_000);

    const since = formatSialPathDate(clock.now().getTime() - 5 * 60_000);
    const hasta = formatSialPathDate(clock.now().getTime());
    const sinceRecords = await list(server, `preinscriptos/listas/${since}`);
    const rangeRecords = await list(server, `preinscriptos/listas/${since}/${hasta}`);
    const expected = new Set([...touched, before.dni]);
    expect(new Set(sinceRecords.map((r) => r.nrodoc))).toEqual(expected);
    expect(new Set(rangeRecords.map((r) => r.nrodoc))).toEqual(expected);
    expect((await list(server, 'preinscriptos/listas/')).length).toBe(50);

    const after = server.record('preinscriptos', 0)!;
    expect(after.list.carreras.map((c) => c.comisiones)).not.toEqual(
      before.list.carreras.map((c) => c.comisiones),
    );
    expect(after.personal.telefono).not.toBe(before.personal.telefono);
    expect(after.modifiedAt.getTime()).toBe(clock.now().getTime() - 60_000);
  });

  it('excludes records modified after hasta', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now });
    const hasta = formatSialPathDate(clock.now().getTime());
    clock.advance(5 * 60_000);
    server.touch('aspirantes', 2);
    expect(await list(server, `aspirantes/listas/20200101/${hasta}`)).toHaveLength(38);
  });

  it('changes only telefono when a touch is limited to personal data', async () => {
    const server = await start();
    const before = server.record('ingresantes', 4)!;
    server.touch('ingresantes', [before.dni], { change: 'personal' });
    const after = server.record('ingresantes', 4)!;
    expect(after.list).toEqual(before.list);
    expect(after.personal.telefono).not.toBe(before.personal.telefono);
  });

  it('appends new records that show up in the full list and in incremental windows', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now });
    clock.advance(60_000);
    const dnis = server.addRecords('ingresantes', 4);
    expect(dnis).toHaveLength(4);
    expect(await list(server, 'ingresantes/listas/')).toHaveLength(34);
    const recent = await list(server, `ingresantes/listas/${formatSialPathDate(clock.now().getTime())}`);
    expect(recent.map((r) => r.nrodoc).sort()).toEqual([...dnis].sort());
    const personal = await get(server, `${BASE}/alumnos/datospersonales/${dnis[0]}`);
    expect(personal.json()).toHaveLength(1);
    expect(server.state().sizes.ingresantes).toBe(34);
  });

  it('answers the full list again from its cache until records or list faults change', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now });
    const path = `${BASE}/preinscriptos/listas/`;
    const original = (await get(server, path)).text;
    expect((await get(server, path)).text).toBe(original);
    server.setFaults({ latencyMs: 0, status500: false }); // nothing the list's bytes depend on
    expect((await get(server, path)).text).toBe(original);

    clock.advance(60_000);
    const [dni] = server.touch('preinscriptos', 1, { change: 'list' });
    const touched = (await get(server, path)).json() as FakeListRecord[];
    const before = (JSON.parse(original) as FakeListRecord[]).find((r) => r.nrodoc === dni)!;
    expect(touched.find((r) => r.nrodoc === dni)!.carreras).not.toEqual(before.carreras);

    server.addRecords('preinscriptos', 2);
    expect(await list(server, 'preinscriptos/listas/')).toHaveLength(52);
    server.setFaults({ badRecords: 1 });
    expect(((await get(server, path)).json() as Record<string, unknown>[])[0]).not.toHaveProperty('nrodoc');
    server.setFaults({ badRecords: false, shape: 'nrodoc_renamed' });
    expect(((await get(server, path)).json() as Record<string, unknown>[])[0]).toHaveProperty(
      'nro_documento',
    );
    server.setFaults({ shape: { variant: 'nrodoc_renamed', endpoints: 'personal' } });
    expect(((await get(server, path)).json() as Record<string, unknown>[])[0]).toHaveProperty('nrodoc');
    server.reset();
    expect((await get(server, path)).text).toBe(original);
  });

  it('rejects touching a DNI that is not in the tipo', async () => {
    const server = await start();
    expect(() => server.touch('preinscriptos', [12])).toThrow(/not in preinscriptos/);
  });
});

describe('fake SIAL faults', () => {
  it('answers 500 for the next N requests and then recovers', async () => {
    const server = await start();
    server.setFaults({ status500: 2 });
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(500);
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(500);
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(200);
    expect(server.state().faults).toEqual({});
  });

  it('scopes a fault to one endpoint', async () => {
    const server = await start();
    const dni = server.record('preinscriptos', 1)!.dni;
    server.setFaults({ status500: true, endpoints: 'personal' });
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(200);
    expect((await get(server, `${BASE}/alumnos/datospersonales/${dni}`)).status).toBe(500);
    server.clearFaults();
    expect((await get(server, `${BASE}/alumnos/datospersonales/${dni}`)).status).toBe(200);
  });

  it('hangs without answering under the timeout fault', async () => {
    const server = await start();
    server.setFaults({ timeout: 1 });
    await expect(
      get(server, `${BASE}/preinscriptos/listas/`, { signal: AbortSignal.timeout(150) }),
    ).rejects.toThrow();
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(200);
  });

  it('sends an invalid JSON body under the malformed fault', async () => {
    const server = await start();
    server.setFaults({ malformed: 1 });
    const res = await get(server, `${BASE}/preinscriptos/listas/`);
    expect(res.status).toBe(200);
    expect(() => res.json()).toThrow(SyntaxError);
  });

  it('returns an empty list under the empty fault', async () => {
    const server = await start();
    server.setFaults({ empty: true, endpoints: 'list' });
    expect(await list(server, 'preinscriptos/listas/')).toEqual([]);
  });

  it("answers a proxy's HTML page with 200 or 502 under the html faults", async () => {
    const server = await start();
    server.setFaults({ html502: 1, html200: { count: 1, endpoints: 'personal' } });
    const bad = await get(server, `${BASE}/preinscriptos/listas/`);
    expect(bad.status).toBe(502);
    expect(bad.headers.get('content-type')).toMatch(/text\/html/);
    expect(bad.text).toContain('<h1>502 Bad Gateway</h1>');
    const dni = server.record('preinscriptos', 0)!.dni;
    const ok = await get(server, `${BASE}/alumnos/datospersonales/${dni}`);
    expect(ok.status).toBe(200);
    expect(ok.text).toMatch(/^<html>/);
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).status).toBe(200);
  });

  it('serves patched fields, removes list fields and marks the record modified', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now });
    const { dni } = server.record('preinscriptos', 3)!;
    clock.advance(60_000);
    const since = formatSialPathDate(clock.now().getTime());
    server.patch('preinscriptos', dni, {
      personal: { apellido: 'Pé\u0000rez', telefono: '3'.repeat(121) },
      removeFromList: ['tipodoc'],
    });
    const changed = await list(server, `preinscriptos/listas/${since}`);
    expect(changed.map((r) => r.nrodoc)).toEqual([dni]);
    expect(changed[0]).not.toHaveProperty('tipodoc');
    const [personal] = (
      await get(server, `${BASE}/alumnos/datospersonales/${dni}`)
    ).json() as FakePersonalRecord[];
    expect(personal).toMatchObject({ apellido: 'Pé\u0000rez', telefono: '3'.repeat(121) });
    server.patch('preinscriptos', dni, { list: { tipodoc: 'PAS' } });
    expect((await list(server, 'preinscriptos/listas/')).find((r) => r.nrodoc === dni)?.tipodoc).toBe('PAS');
  });

  it('changes the record shape under the shape fault', async () => {
    const server = await start();
    server.setFaults({ shape: 'nrodoc_renamed' });
    const [renamed] = (await get(server, `${BASE}/preinscriptos/listas/`)).json() as Record<
      string,
      unknown
    >[];
    expect(renamed).toHaveProperty('nro_documento');
    expect(renamed).not.toHaveProperty('nrodoc');

    server.setFaults({ shape: 'carreras_object' });
    const [objectCarreras] = (await get(server, `${BASE}/preinscriptos/listas/`)).json() as Record<
      string,
      unknown
    >[];
    expect(Array.isArray(objectCarreras!.carreras)).toBe(false);
    expect(objectCarreras!.carreras).toHaveProperty('id_carrera');

    server.setFaults({ shape: 'not_array' });
    expect((await get(server, `${BASE}/preinscriptos/listas/`)).json()).toHaveProperty('resultados');
  });

  it('breaks the first records of a list under the badRecords fault', async () => {
    const server = await start();
    server.setFaults({ badRecords: 4 });
    const records = (await get(server, `${BASE}/preinscriptos/listas/`)).json() as Record<string, unknown>[];
    expect(records).toHaveLength(50);
    expect(records[0]).not.toHaveProperty('nrodoc');
    expect(records[1]!.nrodoc).toBe('abc');
    expect(typeof records[2]!.carreras).toBe('string');
    expect((records[3]!.carreras as { fecha_inscri: string }[])[0]!.fecha_inscri).toBe('31/02/2025 10:00:00');
    expect(typeof records[4]!.nrodoc).toBe('number');
  });

  it('adds latency to every SIAL response', async () => {
    const server = await start();
    server.setFaults({ latencyMs: 60 });
    const started = performance.now();
    await get(server, `${BASE}/preinscriptos/listas/`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(50);
  });

  it('is driven over HTTP through /__fake endpoints', async () => {
    const server = await start();
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(server.url + path, { method: 'POST', body: JSON.stringify(body) });

    const set = await post('/__fake/faults', { status500: { count: 1, endpoints: 'list' } });
    expect(await set.json()).toEqual({ status500: { remaining: 1, endpoints: 'list' } });
    expect((await get(server, `${BASE}/aspirantes/listas/`)).status).toBe(500);

    const bad = await post('/__fake/faults', { explode: true });
    expect(bad.status).toBe(400);

    const touched = (await (await post('/__fake/touch', { tipo: 'aspirantes', count: 2 })).json()) as {
      dnis: number[];
    };
    expect(touched.dnis).toHaveLength(2);
    const added = (await (await post('/__fake/records', { tipo: 'aspirantes', n: 3 })).json()) as {
      dnis: number[];
    };
    expect(added.dnis).toHaveLength(3);

    const state = (await (await fetch(`${server.url}/__fake/state`)).json()) as {
      requests: { list: number };
      touched: { aspirantes: number };
      sizes: { aspirantes: number };
    };
    expect(state.requests.list).toBe(1);
    expect(state.touched.aspirantes).toBe(2);
    expect(state.sizes.aspirantes).toBe(43);

    await post('/__fake/reset', {});
    expect(server.state().sizes.aspirantes).toBe(40);
    expect(server.state().requests.list).toBe(0);
  });
});

describe('fake SIAL request counters', () => {
  it('counts requests per endpoint and per tipo', async () => {
    const server = await start();
    const [first] = await list(server, 'preinscriptos/listas/');
    await list(server, 'ingresantes/listas/');
    await get(server, `${BASE}/alumnos/datospersonales/${first!.nrodoc}`);
    await get(server, '/healthz');
    const { requests } = server.state();
    expect(requests).toMatchObject({ list: 2, personal: 1, healthz: 1 });
    expect(requests.listByTipo).toEqual({ preinscriptos: 1, aspirantes: 0, ingresantes: 1 });
  });
});

describe('fake SIAL at scale', () => {
  it('serves a 100,000-record list and incremental windows over it', async () => {
    const clock = makeClock();
    const server = await start({ now: clock.now, sizes: { preinscriptos: 100_000, aspirantes: 100_000 } });
    const records = await list(server, 'preinscriptos/listas/');
    expect(records).toHaveLength(100_000);
    expect(new Set(records.map((r) => r.nrodoc)).size).toBe(100_000);

    clock.advance(60_000);
    const touched = server.touch('aspirantes', 5);
    const recent = await list(server, `aspirantes/listas/${formatSialPathDate(clock.now().getTime())}`);
    expect(recent.map((r) => r.nrodoc).sort()).toEqual([...touched].sort());
  }, 30_000);

  it('answers many concurrent personal-data requests over kept-alive connections', async () => {
    const server = await start({ sizes: { preinscriptos: 2_000 } });
    const dnis = (await list(server, 'preinscriptos/listas/')).map((r) => r.nrodoc);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < dnis.length) {
        const dni = dnis[next++]!;
        const res = await get(server, `${BASE}/alumnos/datospersonales/${dni}`);
        expect((res.json() as unknown[]).length).toBe(1);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    expect(server.state().requests.personal).toBe(2_000);
    // Generous: 2,000 requests take ~2 s on an idle machine, but CI may run beside other CPU-heavy work.
  }, 180_000);
});
