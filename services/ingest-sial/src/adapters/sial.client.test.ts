import { createFakeSial, type FakeSial, type FakeSialOptions } from '@lucy/fake-sial';
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { createSialClient, formatSialDate, type SialClientOptions } from './sial.client.js';
import {
  SialAuthError,
  SialConnectionError,
  SialError,
  SialHttpError,
  SialResponseError,
} from './sial.errors.js';

const LIST_PATH = '/webservice/sial/V2/04/preinscriptos/listas/';

let fake: FakeSial | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function startFake(options: FakeSialOptions = {}): Promise<FakeSial> {
  fake = await createFakeSial({ sizes: { preinscriptos: 20, aspirantes: 10, ingresantes: 5 }, ...options });
  return fake;
}

/** A clock whose sleeps only advance virtual time, so backoff and rate limits cost no wall time. */
function virtualClock(): Clock & { slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
  };
}

function client(server: FakeSial, options: Partial<SialClientOptions> = {}) {
  return createSialClient({
    baseUrl: server.url,
    user: 'usuario',
    password: 'contrasena',
    backoffMs: 10,
    clock: virtualClock(),
    ...options,
  });
}

describe('SIAL client paths and dates', () => {
  it('formats path dates as AAAAMMDDHHMM in Córdoba time, not UTC', () => {
    expect(formatSialDate(new Date('2026-01-15T13:05:00Z'))).toBe('202601151005');
    expect(formatSialDate(new Date('2026-01-01T02:30:00Z'))).toBe('202512312330');
  });

  it('chooses the path like the original: full, since, or range', async () => {
    const sial = client(await startFake());
    const desde = new Date('2026-01-15T13:05:00Z');
    const hasta = new Date('2026-01-15T14:00:00Z');
    expect(sial.listPath('preinscriptos')).toBe(LIST_PATH);
    expect(sial.listPath('preinscriptos', { desde })).toBe(`${LIST_PATH}202601151005`);
    expect(sial.listPath('preinscriptos', { desde, hasta })).toBe(`${LIST_PATH}202601151005/202601151100`);
  });

  it('rejects hasta without desde instead of silently listing everything', async () => {
    const sial = client(await startFake());
    expect(() => sial.listPath('aspirantes', { hasta: new Date() })).toThrow(TypeError);
    await expect(sial.listar('aspirantes', { hasta: new Date() })).rejects.toThrow('hasta requiere desde');
  });

  it('gets exactly the records modified in the window from the fake', async () => {
    let now = new Date('2026-01-15T13:00:00Z');
    const server = await startFake({ now: () => now });
    now = new Date('2026-01-15T13:05:00Z');
    const touched = server.touch('preinscriptos', 2);
    now = new Date('2026-01-15T13:10:00Z');
    const records = (await client(server).listar('preinscriptos', {
      desde: new Date('2026-01-15T13:05:00Z'),
      hasta: now,
    })) as { nrodoc: number }[];
    expect(records.map((r) => r.nrodoc).sort()).toEqual([...touched].sort());
  });

  it('returns the full list as raw JSON', async () => {
    const records = await client(await startFake()).listar('preinscriptos');
    expect(records).toHaveLength(20);
  });
});

describe('SIAL client personal data', () => {
  it('returns the personal-data object', async () => {
    const server = await startFake();
    const { dni } = server.record('aspirantes', 0)!;
    const personal = await client(server).datosPersonales(dni);
    expect(personal).toMatchObject({ nrodoc: String(dni) });
  });

  it('returns null when SIAL answers []', async () => {
    expect(await client(await startFake()).datosPersonales('12')).toBeNull();
  });

  it('rejects an nrodoc that cannot be a path segment', async () => {
    await expect(client(await startFake()).datosPersonales('../x')).rejects.toThrow(TypeError);
  });
});

describe('SIAL client failures', () => {
  it('raises SialAuthError on 401 without retrying', async () => {
    const server = await startFake();
    const err = await client(server, { password: 'mala' })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialAuthError);
    expect((err as SialAuthError).message).toContain(
      'rechazó las credenciales del usuario «usuario» (HTTP 401)',
    );
    expect((err as SialAuthError).transient).toBe(false);
    expect(server.state().requests.list).toBe(1);
  });

  it('retries 5xx with exponential backoff and then succeeds', async () => {
    const server = await startFake();
    server.setFaults({ status500: 2 });
    const clock = virtualClock();
    const retries: number[] = [];
    const sial = client(server, { clock, random: () => 1, onRetry: (i) => retries.push(i.attempt) });
    expect(await sial.listar('preinscriptos')).toHaveLength(20);
    expect(server.state().requests.list).toBe(3);
    expect(retries).toEqual([1, 2]);
    expect(clock.slept).toEqual([10, 20]);
  });

  it('caps the backoff and gives up after the configured retries with SialHttpError', async () => {
    const server = await startFake();
    server.setFaults({ status500: true });
    const clock = virtualClock();
    const sial = client(server, { clock, retries: 4, backoffMs: 100, maxBackoffMs: 300, random: () => 1 });
    const err = await sial.listar('preinscriptos').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialHttpError);
    expect((err as SialHttpError).status).toBe(500);
    expect((err as SialHttpError).message).toBe(
      `SIAL respondió HTTP 500 en GET ${LIST_PATH}: Error interno del servidor (5 intentos)`,
    );
    expect(server.state().requests.list).toBe(5);
    expect(clock.slept).toEqual([100, 200, 300, 300]);
  });

  it('adds jitter between half and all of the backoff', async () => {
    const server = await startFake();
    server.setFaults({ status500: 1 });
    const clock = virtualClock();
    await client(server, { clock, backoffMs: 100, random: () => 0 }).listar('preinscriptos');
    expect(clock.slept).toEqual([50]);
  });

  it('times out a hanging SIAL with "Error de conexión con SIAL: …"', async () => {
    const server = await startFake();
    server.setFaults({ timeout: true });
    const err = await client(server, { timeoutMs: 100, retries: 1 })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialConnectionError);
    expect((err as SialConnectionError).message).toBe(
      `Error de conexión con SIAL: sin respuesta después de 100 ms en GET ${LIST_PATH} (2 intentos)`,
    );
    expect((err as SialConnectionError).timedOut).toBe(true);
    expect(server.state().requests.list).toBe(2);
  });

  it('reports a refused connection as a connection error', async () => {
    const server = await startFake();
    const url = server.url;
    await server.close();
    fake = undefined;
    const err = await createSialClient({
      baseUrl: url,
      user: 'u',
      password: 'p',
      retries: 1,
      clock: virtualClock(),
    })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialConnectionError);
    expect((err as Error).message).toMatch(/^Error de conexión con SIAL: .*ECONNREFUSED/);
  });

  it('raises SialResponseError for malformed JSON without retrying', async () => {
    const server = await startFake();
    server.setFaults({ malformed: 1 });
    const err = await client(server)
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialResponseError);
    expect((err as Error).message).toMatch(
      new RegExp(`^Respuesta inválida de SIAL en GET ${LIST_PATH}: el cuerpo no es JSON válido`),
    );
    expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    expect(server.state().requests.list).toBe(1);
  });

  it('raises SialResponseError when the list is not an array', async () => {
    const server = await startFake();
    server.setFaults({ shape: 'not_array' });
    const err = await client(server)
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialResponseError);
    expect((err as Error).message).toContain('se esperaba una lista de preinscriptos y llegó un objeto');
  });

  it('does not retry a 4xx', async () => {
    const server = await startFake();
    const sial = createSialClient({
      baseUrl: server.url,
      user: 'usuario',
      password: 'contrasena',
      clock: virtualClock(),
      fetch: (_input, init) => fetch(`${server.url}/webservice/sial/V2/04/Preinscriptos/listas/`, init),
    });
    const err = await sial.listar('preinscriptos').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialHttpError);
    expect((err as SialHttpError).status).toBe(404);
    expect((err as SialHttpError).detail).toBe('Tipo no encontrado');
    expect(server.state().requests.list).toBe(1);
  });

  it('never puts the password in an error', async () => {
    const server = await startFake();
    const password = 'muy-secreta-123';
    const errors: unknown[] = [];
    errors.push(
      await client(server, { password })
        .listar('preinscriptos')
        .catch((e: unknown) => e),
    );
    const good = client(server, { password: 'contrasena', retries: 0, timeoutMs: 50 });
    server.setFaults({ timeout: 1 });
    errors.push(await good.listar('preinscriptos').catch((e: unknown) => e));
    for (const err of errors) {
      expect(err).toBeInstanceOf(SialError);
      expect(JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack })).not.toContain(
        password,
      );
    }
    expect(() =>
      createSialClient({ baseUrl: `http://u:${password}@127.0.0.1:1`, user: 'u', password }),
    ).toThrow(/no debe incluir usuario ni contraseña/);
  });

  it('stops waiting when the caller aborts', async () => {
    const server = await startFake();
    server.setFaults({ timeout: true });
    const controller = new AbortController();
    const pending = client(server, { timeoutMs: 10_000 }).listar(
      'preinscriptos',
      {},
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('cancelado')), 20);
    await expect(pending).rejects.toThrow('cancelado');
  });
});

describe('SIAL client rate limit', () => {
  it('spaces requests by the configured rate, retries included', async () => {
    const server = await startFake();
    server.setFaults({ status500: 1 });
    const clock = virtualClock();
    const sentAt: number[] = [];
    const sial = client(server, {
      clock,
      requestsPerSecond: 5,
      backoffMs: 1,
      random: () => 1,
      fetch: (input, init) => {
        sentAt.push(clock.now());
        return fetch(input, init);
      },
    });
    for (let i = 0; i < 4; i++) await sial.listar('preinscriptos');
    expect(server.state().requests.list).toBe(5);
    // Token every 200 ms; the 1 ms backoff before the retry counts towards the next token's wait.
    expect(sentAt).toEqual([0, 200, 400, 600, 800]);
  });

  it('sends without waiting when unlimited', async () => {
    const server = await startFake();
    const clock = virtualClock();
    const sial = client(server, { clock });
    for (let i = 0; i < 5; i++) await sial.listar('aspirantes');
    expect(clock.slept).toEqual([]);
  });
});
