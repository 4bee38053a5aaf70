import { createFakeSial, type FakeSial, type FakeSialOptions } from '@lucy/fake-sial';
import { createVirtualClock } from '@lucy/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createSialClient,
  formatSialDate,
  type SialClientOptions,
  type SialListSink,
} from './sial.client.js';
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

function client(server: FakeSial, options: Partial<SialClientOptions> = {}) {
  return createSialClient({
    baseUrl: server.url,
    user: 'usuario',
    password: 'contrasena',
    backoffMs: 10,
    clock: createVirtualClock(),
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

  it('reads the credentials at each request: a replaced password is sent from the next one on', async () => {
    const server = await startFake();
    let current = { user: 'usuario', password: 'mala', origin: 'personal' as const };
    let reads = 0;
    const sial = client(server, {
      user: undefined,
      password: undefined,
      credentials: () => {
        reads++;
        return current;
      },
    });
    const err = await sial.listar('preinscriptos').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialAuthError);
    // Where the refused pair comes from, so staff know what to fix; never the password.
    expect((err as SialAuthError).message).toContain('Son las guardadas en la Configuración');
    expect((err as SialAuthError).message).not.toContain('mala');
    current = { ...current, password: 'contrasena' };
    expect(await sial.listar('preinscriptos')).toHaveLength(20);
    expect(reads).toBe(2);
    // SIAL's password rotated, the deployment's pair still the old one: the message points at the deployment.
    server.setCredentials({ user: 'usuario', password: 'rotada' });
    const stale = client(server, {
      user: undefined,
      password: undefined,
      credentials: () => ({ user: 'usuario', password: 'contrasena', origin: 'despliegue' }),
    });
    const err2 = await stale.listar('aspirantes').catch((e: unknown) => e);
    expect((err2 as SialAuthError).message).toContain('SIAL_USER/SIAL_PASSWORD');
    expect(() => createSialClient({ baseUrl: server.url })).toThrow(/credenciales de SIAL/);
  });

  it('retries 5xx with exponential backoff and then succeeds', async () => {
    const server = await startFake();
    server.setFaults({ status500: 2 });
    const clock = createVirtualClock();
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
    const clock = createVirtualClock();
    const sial = client(server, { clock, retries: 4, backoffMs: 100, maxBackoffMs: 300, random: () => 1 });
    const err = await sial.listar('preinscriptos').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialHttpError);
    expect((err as SialHttpError).status).toBe(500);
    expect((err as SialHttpError).message).toBe(
      `SIAL respondió HTTP 500 en GET ${LIST_PATH}: Error interno del servidor (5 solicitudes HTTP)`,
    );
    expect(server.state().requests.list).toBe(5);
    expect(clock.slept).toEqual([100, 200, 300, 300]);
  });

  it('adds jitter between half and all of the backoff', async () => {
    const server = await startFake();
    server.setFaults({ status500: 1 });
    const clock = createVirtualClock();
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
      `Error de conexión con SIAL: sin respuesta después de 100 ms en GET ${LIST_PATH} (2 solicitudes HTTP)`,
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
      clock: createVirtualClock(),
    })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialConnectionError);
    expect((err as Error).message).toMatch(/^Error de conexión con SIAL: .*ECONNREFUSED/);
  });

  it("retries a body that is not JSON (a proxy's page, a cut-off answer) like a 500, and recovers", async () => {
    const server = await startFake();
    server.setFaults({ malformed: 1, endpoints: 'list' });
    expect(await client(server).listar('preinscriptos')).toHaveLength(server.state().sizes.preinscriptos);
    expect(server.state().requests.list).toBe(2);
  });

  it("raises a transient SialResponseError when a proxy's HTML page outlasts the retries", async () => {
    const server = await startFake();
    server.setFaults({ html200: true, endpoints: 'list' });
    const err = await client(server, { retries: 1 })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialResponseError);
    expect((err as SialResponseError).transient).toBe(true);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^Respuesta inválida de SIAL en GET ${LIST_PATH}: el cuerpo no es JSON sino una página HTML «502 Bad Gateway», probablemente de un proxy`,
      ),
    );
    expect((err as Error).message).toMatch(/\(2 solicitudes HTTP\)$/);
    server.setFaults({ html200: false, html502: true });
    const bad = await client(server, { retries: 1 })
      .listar('preinscriptos')
      .catch((e: unknown) => e);
    expect((bad as SialHttpError).transient).toBe(true);
    expect((bad as Error).message).toBe(
      `SIAL respondió HTTP 502 en GET ${LIST_PATH}: una página HTML «502 Bad Gateway», probablemente de un proxy (2 solicitudes HTTP)`,
    );
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
      clock: createVirtualClock(),
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
    const clock = createVirtualClock();
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
    const clock = createVirtualClock();
    const sial = client(server, { clock });
    for (let i = 0; i < 5; i++) await sial.listar('aspirantes');
    expect(clock.slept).toEqual([]);
  });
});

/** A fetch whose n-th call answers 200 with a body streamed in the given chunks, then as `ending` says. */
function streamingFetch(
  attempts: readonly { chunks: readonly (string | Uint8Array)[]; ending?: 'close' | 'break' | 'hang' }[],
): typeof globalThis.fetch & { calls: number } {
  const encoder = new TextEncoder();
  const fake = async (_input: unknown, init?: RequestInit): Promise<Response> => {
    const plan = attempts[Math.min(fake.calls++, attempts.length - 1)]!;
    const queue = plan.chunks.map((c) => (typeof c === 'string' ? encoder.encode(c) : c));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
      },
      pull(controller) {
        const next = queue.shift();
        if (next) return controller.enqueue(next);
        if (plan.ending === 'break') return controller.error(new TypeError('terminated'));
        if (plan.ending === 'hang') return new Promise<void>(() => undefined);
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { 'content-type': 'application/json' } });
  };
  fake.calls = 0;
  return fake;
}

/** A sink that records what it was given; `sinks` collects every sink made (one per attempt). */
function collectingSink() {
  const sinks: { values: unknown[]; texts: string[]; positions: number[]; ended?: number }[] = [];
  const make = (): SialListSink<unknown[]> => {
    const got: (typeof sinks)[number] = { values: [], texts: [], positions: [] };
    sinks.push(got);
    return {
      record(value, json, position) {
        got.values.push(value);
        got.texts.push(new TextDecoder().decode(json));
        got.positions.push(position);
      },
      end(count) {
        got.ended = count;
        return got.values;
      },
    };
  };
  return { sinks, make };
}

function streamingClient(fetchImpl: typeof globalThis.fetch, options: Partial<SialClientOptions> = {}) {
  return createSialClient({
    baseUrl: 'http://sial.test',
    user: 'usuario',
    password: 'contrasena',
    backoffMs: 10,
    clock: createVirtualClock(),
    fetch: fetchImpl,
    ...options,
  });
}

const LIST = '/webservice/sial/V2/04/aspirantes/listas/';

describe('SIAL client streamed lists', () => {
  it("hands every record of the fake's list to the sink with its JSON text and position", async () => {
    const server = await startFake();
    const { sinks, make } = collectingSink();
    const records = await client(server).listarEach('preinscriptos', {}, make);
    expect(records).toHaveLength(20);
    expect(sinks).toHaveLength(1);
    expect(sinks[0]!.ended).toBe(20);
    expect(sinks[0]!.positions).toEqual([...Array(20).keys()]);
    expect(sinks[0]!.texts.map((t) => JSON.parse(t) as unknown)).toEqual(records);
    expect(records).toEqual(await client(server).listar('preinscriptos'));
  });

  it('parses records split across chunks anywhere, multibyte characters included', async () => {
    const body = new TextEncoder().encode(
      '[{"nrodoc":1,"carreras":[{"nombre_carrera":"LICENCIATURA EN ADMINISTRACIÓN"}]},{"nrodoc":2,"x":"a\\"b]"}]',
    );
    const accent = body.indexOf(0xc3); // the first byte of «Ó»
    const quote = body.indexOf(0x5c); // the backslash of the escaped quote
    const fetchImpl = streamingFetch([
      {
        chunks: [body.slice(0, accent + 1), body.slice(accent + 1, quote + 1), body.slice(quote + 1)],
      },
    ]);
    const { sinks, make } = collectingSink();
    const records = await streamingClient(fetchImpl).listarEach('aspirantes', {}, make);
    expect(records).toEqual([
      { nrodoc: 1, carreras: [{ nombre_carrera: 'LICENCIATURA EN ADMINISTRACIÓN' }] },
      { nrodoc: 2, x: 'a"b]' },
    ]);
    expect(sinks[0]!.texts[1]).toBe('{"nrodoc":2,"x":"a\\"b]"}');
  });

  it('restarts a response that broke off half-way with a fresh sink', async () => {
    const fetchImpl = streamingFetch([
      { chunks: ['[{"nrodoc":1},{"nro', 'doc":2},'], ending: 'break' },
      { chunks: ['[{"nrodoc":1},', '{"nrodoc":2},{"nrodoc":3}]'] },
    ]);
    const retries: string[] = [];
    const { sinks, make } = collectingSink();
    const records = await streamingClient(fetchImpl, {
      onRetry: (info) => retries.push(info.error.message),
    }).listarEach('aspirantes', {}, make);
    expect(records).toEqual([{ nrodoc: 1 }, { nrodoc: 2 }, { nrodoc: 3 }]);
    expect(fetchImpl.calls).toBe(2);
    expect(sinks.map((s) => s.values.length)).toEqual([2, 3]);
    expect(sinks[0]!.ended).toBeUndefined();
    expect(retries).toEqual([`Error de conexión con SIAL: terminated en GET ${LIST}`]);
  });

  it('times out a body that stops arriving, and retries it', async () => {
    const fetchImpl = streamingFetch([{ chunks: ['[{"nrodoc":1},'], ending: 'hang' }]);
    const err = await streamingClient(fetchImpl, { timeoutMs: 50, retries: 1 })
      .listarEach('aspirantes', {}, collectingSink().make)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialConnectionError);
    expect((err as Error).message).toBe(
      `Error de conexión con SIAL: sin respuesta después de 50 ms en GET ${LIST} (2 solicitudes HTTP)`,
    );
    expect(fetchImpl.calls).toBe(2);
  });

  it('rejects a record that is not valid JSON as a malformed body (transient: retried when retries are left)', async () => {
    const fetchImpl = streamingFetch([{ chunks: ['[{"nrodoc":1},{"nrodoc":tru}', ',{"nrodoc":3}]'] }]);
    const { sinks, make } = collectingSink();
    const err = await streamingClient(fetchImpl, { retries: 0 })
      .listarEach('aspirantes', {}, make)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SialResponseError);
    expect((err as Error).message).toBe(
      `Respuesta inválida de SIAL en GET ${LIST}: el cuerpo no es JSON válido («[{"nrodoc":1},{"nrodoc":tru},{"nrodoc":3}]»)`,
    );
    expect((err as Error).cause).toBeInstanceOf(SyntaxError);
    expect(fetchImpl.calls).toBe(1);
    expect(sinks[0]!.values).toEqual([{ nrodoc: 1 }]);
  });

  it('rejects garbage after the list and an unterminated list, quoting the start of long bodies', async () => {
    const garbage = await streamingClient(streamingFetch([{ chunks: ['[{"nrodoc":1}]', ' <html>'] }]), {
      retries: 0,
    })
      .listar('aspirantes')
      .catch((e: unknown) => e);
    expect(garbage).toBeInstanceOf(SialResponseError);
    expect((garbage as Error).cause).toBeInstanceOf(SyntaxError);
    const long = `[${Array.from({ length: 50 }, (_, i) => `{"nrodoc":${i + 1}}`).join(',')}`;
    const unterminated = await streamingClient(streamingFetch([{ chunks: [long] }]), { retries: 0 })
      .listar('aspirantes')
      .catch((e: unknown) => e);
    expect((unterminated as Error).message).toBe(
      `Respuesta inválida de SIAL en GET ${LIST}: el cuerpo no es JSON válido («${long.slice(0, 77)}...»)`,
    );
  });

  it('says what a body that is not a list is, or that it is not JSON', async () => {
    const said = async (chunks: string[]) =>
      (
        (await streamingClient(streamingFetch([{ chunks }]), { retries: 0 })
          .listar('aspirantes')
          .catch((e: unknown) => e)) as Error
      ).message;
    expect(await said(['null'])).toContain('se esperaba una lista de aspirantes y llegó null');
    expect(await said([' {"resultados"', ':[]}'])).toContain('llegó un objeto');
    expect(await said(['"texto"'])).toContain('llegó un valor de tipo string');
    expect(await said(['<html>'])).toContain(
      'el cuerpo no es JSON sino una página HTML, probablemente de un proxy',
    );
    expect(await said([''])).toContain('el cuerpo no es JSON válido («»)');
  });

  it('reads an empty list and ignores a byte-order mark, as response.text() does', async () => {
    expect(await streamingClient(streamingFetch([{ chunks: [' [ ] '] }])).listar('aspirantes')).toEqual([]);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('[{"nrodoc":1}]')]);
    expect(await streamingClient(streamingFetch([{ chunks: [bom] }])).listar('aspirantes')).toEqual([
      { nrodoc: 1 },
    ]);
  });

  it('lets an error of the sink through as it is, without retrying', async () => {
    const fetchImpl = streamingFetch([{ chunks: ['[{"nrodoc":1},{"nrodoc":2}]'] }]);
    const err = await streamingClient(fetchImpl)
      .listarEach('aspirantes', {}, () => ({
        record: () => {
          throw new RangeError('sink');
        },
        end: () => undefined,
      }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(fetchImpl.calls).toBe(1);
  });

  it('stops a streamed list when the caller aborts', async () => {
    const fetchImpl = streamingFetch([{ chunks: ['[{"nrodoc":1},'], ending: 'hang' }]);
    const controller = new AbortController();
    const pending = streamingClient(fetchImpl, { timeoutMs: 10_000 }).listarEach(
      'aspirantes',
      {},
      collectingSink().make,
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('cancelado')), 20);
    await expect(pending).rejects.toThrow('cancelado');
    expect(fetchImpl.calls).toBe(1);
  });
});
