/**
 * The Graph adapter against @lucy/fake-graph over real HTTPS, with the real ClientSecretCredential and Graph SDK.
 * The client and the fake share one test clock: waits (Retry-After, backoff, replication lag, the write window)
 * move it forward instead of sleeping, and are asserted exactly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateClientCertificate, STUDENT_SKU, type FakeGraph } from '@lucy/fake-graph';
import { ConfigError, PermanentError, TransientError } from '@lucy/platform';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createGraphClient,
  GRAPH_ERROR,
  GraphUserExistsError,
  type GraphClient,
  type GraphClientOptions,
  type NewGraphUser,
  retryAfterMs,
} from '../src/adapters/index.js';
import { captureLogger, makeTestClock, rejectionOf, startGraphFake, type TestClock } from './support.js';

const DOMAIN = 'alumnos.example.edu.ar';

let fake: FakeGraph | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setup(
  fakeOptions: Parameters<typeof startGraphFake>[0] = {},
  clientOptions: Partial<GraphClientOptions> = {},
): Promise<{ fake: FakeGraph; graph: GraphClient; clock: TestClock }> {
  const clock = makeTestClock();
  fake = await startGraphFake({ now: clock.now, ...fakeOptions });
  const graph = createGraphClient({
    tenantId: fake.tenantId,
    clientId: fake.app.clientId,
    clientSecret: fake.app.clientSecret ?? '',
    authorityHost: fake.authorityHost,
    baseUrl: fake.graphUrl,
    clock,
    random: () => 1,
    ...clientOptions,
  });
  return { fake, graph, clock };
}

const alumno = (dni: string, extra: Partial<NewGraphUser> = {}): NewGraphUser => ({
  userPrincipalName: `test-a${dni}@${DOMAIN}`,
  displayName: 'Pérez, María José',
  mailNickname: `maria.perez.${dni}`,
  givenName: 'María José',
  surname: 'Pérez',
  employeeId: dni,
  password: 'Tmp#Clave-2345xyz',
  ...extra,
});

describe('Graph client: the account lifecycle', () => {
  it('creates, finds, licenses, resets, deletes and restores an alumno account', async () => {
    const { fake, graph, clock } = await setup();
    const created = await graph.createUser(alumno('40111222'));
    expect(created).toMatchObject({ userPrincipalName: `test-a40111222@${DOMAIN}`, employeeId: '40111222' });

    const found = await graph.findUserByUpn(`test-a40111222@${DOMAIN}`);
    expect(found).toMatchObject({
      id: created.id,
      displayName: 'Pérez, María José',
      usageLocation: 'AR',
      employeeId: '40111222',
      accountEnabled: true,
      assignedLicenses: [],
    });
    expect(fake.user(created.id)?.passwordProfile).toMatchObject({
      password: 'Tmp#Clave-2345xyz',
      forceChangePasswordNextSignIn: true,
    });
    expect((await graph.findUsersByEmployeeId('40111222')).map((u) => u.id)).toEqual([created.id]);
    expect(await graph.findUsersByEmployeeId("4011'1222")).toEqual([]);

    const sku = await graph.resolveSku('standardwoffpack_student');
    expect(sku).toMatchObject({ skuId: STUDENT_SKU.skuId, available: 500, consumedUnits: 0 });
    await graph.assignLicense(created.id, sku.skuId);
    expect((await graph.findUserByUpn(created.id))?.assignedLicenses).toEqual([
      { skuId: STUDENT_SKU.skuId, disabledPlans: [] },
    ]);
    expect((await graph.resolveSku(STUDENT_SKU.skuPartNumber)).available).toBe(499);

    await graph.resetPassword(created.id, 'Nueva#Clave-6789');
    expect(fake.user(created.id)?.passwordProfile.password).toBe('Nueva#Clave-6789');

    expect(await graph.deleteUser(`test-a40111222@${DOMAIN}`)).toBe('deleted');
    expect(await graph.findUserByUpn(`test-a40111222@${DOMAIN}`)).toBeNull();
    expect(await graph.deleteUser(`test-a40111222@${DOMAIN}`)).toBe('not_found');
    expect((await graph.listDeletedUsers()).map((u) => u.id)).toEqual([created.id]);

    const restored = await graph.restoreUser(created.id);
    expect(restored.userPrincipalName).toBe(`test-a40111222@${DOMAIN}`);
    expect((await graph.findUserByUpn(`test-a40111222@${DOMAIN}`))?.id).toBe(created.id);
    // Nothing waited: in particular, the 404s after the delete were not taken for replication lag.
    expect(clock.slept).toEqual([]);
  });

  it('refuses to delete an account outside the safe prefix without calling Graph', async () => {
    const { fake, graph } = await setup();
    const before = fake.state().requests.graph;
    const err = await rejectionOf(graph.deleteUser(`a40111222@${DOMAIN}`));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.deletionRefused);
    expect(err.message).toMatch(/^SEGURIDAD: .*«test-»/);
    expect(fake.state().requests.graph).toBe(before);
  });

  it('names an unknown SKU and lists the ones the tenant has', async () => {
    const { graph } = await setup();
    const err = await rejectionOf(graph.resolveSku('M365EDU_A3_STUDENT'));
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.skuNotFound);
    expect(err.message).toContain('STANDARDWOFFPACK_STUDENT');
  });
});

describe('Graph client: the lookups of an activation in one JSON batch', () => {
  it('finds the user by UPN and by employeeId in one HTTP request, and reports absence', async () => {
    const { fake, graph } = await setup();
    const created = await graph.createUser(alumno('40111230'));
    const before = fake.state().requests;
    const found = await graph.lookupAccount(`test-a40111230@${DOMAIN}`, '40111230');
    expect(found.byUpn).toMatchObject({ id: created.id, employeeId: '40111230', usageLocation: 'AR' });
    expect(found.byEmployeeId.map((u) => u.id)).toEqual([created.id]);
    const after = fake.state().requests;
    expect(after.batch - before.batch).toBe(1);
    // Two Graph requests inside one batch, and no write counted against the quota.
    expect(after.graph - before.graph).toBe(2);
    expect(graph.writesInWindow()).toBe(1);

    const none = await graph.lookupAccount(`test-a40111231@${DOMAIN}`, "4011'1231");
    expect(none).toEqual({ byUpn: null, byEmployeeId: [] });
  });

  it('retries the batch when a request inside it is throttled, waiting its Retry-After', async () => {
    const { fake, graph, clock } = await setup();
    fake.setFaults({ throttle: { count: 1, retryAfterSeconds: 4, target: 'read' } });
    const found = await graph.lookupAccount(`test-a40111232@${DOMAIN}`, '40111232');
    expect(found).toEqual({ byUpn: null, byEmployeeId: [] });
    expect(clock.slept).toEqual([4000]);
    expect(fake.state().requests.batch).toBe(2);
  });

  it('fails without retrying when a request inside the batch is refused (403), naming the cause', async () => {
    const { fake, graph, clock } = await setup();
    fake.setFaults({ forbidden: { count: 1, target: 'read' } });
    const err = await rejectionOf(graph.lookupAccount(`test-a40111233@${DOMAIN}`, '40111233'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.forbidden);
    expect(clock.slept).toEqual([]);
  });
});

describe('Graph client: throttling and transient failures', () => {
  it('waits what Retry-After asks on 429 and then succeeds', async () => {
    const { fake, graph, clock } = await setup();
    fake.setFaults({ throttle: { count: 2, retryAfterSeconds: 3 } });
    expect(await graph.findUsersByEmployeeId('1')).toEqual([]);
    expect(clock.slept).toEqual([3000, 3000]);
    expect(fake.state().requests).toMatchObject({ throttled: 2, graph: 3 });
  });

  it('gives up after the retries with a TransientError naming the 429', async () => {
    const { fake, graph, clock } = await setup({}, { maxRetries: 2 });
    fake.setFaults({ throttle: { retryAfterSeconds: 1 } });
    const err = await rejectionOf(graph.createUser(alumno('40111223')));
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe(GRAPH_ERROR.throttled);
    expect(err.message).toContain('HTTP 429, TooManyRequests');
    expect(err.message).toContain('tras 3 intentos');
    expect(clock.slept).toEqual([1000, 1000]);
    expect(fake.state().requests.throttled).toBe(3);
  });

  it('does not wait a Retry-After longer than its cap', async () => {
    const { fake, graph, clock } = await setup({}, { maxRetryAfterMs: 10_000 });
    fake.setFaults({ status503: { count: 1, retryAfterSeconds: 60 } });
    const err = await rejectionOf(graph.findUsersByEmployeeId('1'));
    expect((err as TransientError).code).toBe(GRAPH_ERROR.unavailable);
    expect(clock.slept).toEqual([]);
  });

  it('backs off exponentially on 500 and succeeds', async () => {
    const { fake, graph, clock } = await setup({}, { backoffMs: 200 });
    fake.setFaults({ status500: 2 });
    await graph.listSubscribedSkus();
    expect(clock.slept).toEqual([200, 400]);
    expect(fake.state().requests.faulted).toBe(2);
  });

  it('retries the 404s of a just-created user (replication lag) and licenses it', async () => {
    const { fake, graph, clock } = await setup({}, { replicationWaitMs: 60_000 });
    fake.setFaults({ replicationLagMs: 20_000 });
    const created = await graph.createUser(alumno('40111224'));
    await graph.assignLicense(created.id, STUDENT_SKU.skuId);
    expect(fake.user(created.id)?.assignedLicenses).toHaveLength(1);
    const waited = clock.slept.reduce((a, b) => a + b, 0);
    expect(waited).toBeGreaterThanOrEqual(20_000);
    expect(waited).toBeLessThan(40_000);
    expect(clock.slept.length).toBeGreaterThan(1);
  });

  it('does not wait for a user it did not create: an unknown UPN is simply absent', async () => {
    const { graph, clock } = await setup();
    expect(await graph.findUserByUpn(`test-nadie@${DOMAIN}`)).toBeNull();
    expect(clock.slept).toEqual([]);
  });

  it('stops retrying a lagging user once the replication wait is over', async () => {
    const { fake, graph, clock } = await setup({}, { replicationWaitMs: 5_000 });
    fake.setFaults({ replicationLagMs: 60_000 });
    const created = await graph.createUser(alumno('40111225'));
    const err = await rejectionOf(graph.resetPassword(created.id, 'Otra#Clave-2345'));
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.notFound);
    expect(clock.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5_000);
  });

  it('keeps writes under the quota by waiting for the window instead of being throttled', async () => {
    const { fake, graph, clock } = await setup({ writeLimit: 4 }, { writesPerWindow: 4 });
    for (let i = 0; i < 6; i++) await graph.createUser(alumno(`4020000${i}`));
    const { writes, requests } = fake.state();
    expect(writes.total).toBe(6);
    expect(writes.peakWindow).toBe(4);
    expect(requests.throttled).toBe(0);
    expect(clock.slept).toHaveLength(1);
    expect(clock.slept[0]).toBeGreaterThan(149_000);
    expect(graph.writesInWindow()).toBe(2);
  });
});

describe('Graph client: permanent failures', () => {
  it('reports an existing UPN as a distinguishable "ya existe" error', async () => {
    const { graph } = await setup();
    await graph.createUser(alumno('40111226'));
    const err = await rejectionOf(graph.createUser(alumno('40111226')));
    expect(err).toBeInstanceOf(GraphUserExistsError);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as GraphUserExistsError).upn).toBe(`test-a40111226@${DOMAIN}`);
    expect(err.message).toContain('Ya existe una cuenta con el UPN test-a40111226');
    expect(err.message).toContain('Request_BadRequest, ObjectConflict');
  });

  it('reports no free seats', async () => {
    const { fake, graph } = await setup();
    fake.setSeats(STUDENT_SKU.skuPartNumber, 0);
    const user = await graph.createUser(alumno('40111227'));
    const err = await rejectionOf(graph.assignLicense(user.id, STUDENT_SKU.skuId));
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.noSeats);
    expect(err.message).toMatch(
      /^No quedan licencias disponibles de 314c4481.* \(HTTP 400, Request_BadRequest\)/,
    );
  });

  it('reports a domain the tenant has not verified', async () => {
    const { graph } = await setup();
    const err = await rejectionOf(
      graph.createUser(alumno('1', { userPrincipalName: 'test-a1@otro.edu.ar' })),
    );
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.invalidDomain);
    expect(err.message).toContain('test-a1@otro.edu.ar');
  });

  it('reports missing privileges (403) without retrying', async () => {
    const { fake, graph, clock } = await setup();
    const user = await graph.createUser(alumno('40111228'));
    fake.setFaults({ forbidden: 1 });
    const err = await rejectionOf(graph.resetPassword(user.id, 'Otra#Clave-2345'));
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.forbidden);
    expect(err.message).toContain('HTTP 403, Authorization_RequestDenied');
    expect(clock.slept).toEqual([]);
  });

  it('reports a wrong client secret clearly, in Spanish, without the secret', async () => {
    const { fake, graph } = await setup({}, { clientSecret: 'clave-equivocada-Zx9' });
    const err = await rejectionOf(graph.findUsersByEmployeeId('1'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.credentials);
    expect(err.message).toContain('el secreto de cliente no es válido (AADSTS7000215)');
    expect(err.message).toContain('GRAPH_CLIENT_SECRET');
    expect(JSON.stringify({ m: err.message, d: (err as PermanentError).detalles })).not.toContain('Zx9');
    expect(fake.state().requests.graph).toBe(0);
  });
});

describe('Graph client: certificate credentials', () => {
  const certificateClient = (f: FakeGraph, clientCertificate: GraphClientOptions['clientCertificate']) =>
    createGraphClient({
      tenantId: f.tenantId,
      clientId: f.app.clientId,
      clientCertificate,
      authorityHost: f.authorityHost,
      baseUrl: f.graphUrl,
      clock: makeTestClock(),
      maxRetries: 0,
    });

  it('authenticates with a registered certificate, from a file or from the PEM text (the real ClientCertificateCredential)', async () => {
    const mine = await generateClientCertificate();
    const dir = mkdtempSync(join(tmpdir(), 'lucy-graph-cert-'));
    const file = join(dir, 'app.pem');
    writeFileSync(file, `${mine.key}\n${mine.cert}`, { mode: 0o600 });
    fake = await startGraphFake({
      apps: [{ clientId: '0b1c2d3e-4f50-4617-8899-aabbccddeeff', certificates: [mine.cert] }],
    });
    for (const source of [{ path: file }, { pem: `${mine.key}\n${mine.cert}` }]) {
      const graph = certificateClient(fake, source);
      expect(await graph.findUsersByEmployeeId('40111240')).toEqual([]);
    }
    expect(fake.state().requests).toMatchObject({ tokenErrors: 0 });
    expect(fake.state().requests.token).toBeGreaterThanOrEqual(2);
  });

  it('names an unregistered certificate in Spanish, and a file that is missing or no PEM by its variable', async () => {
    const registered = await generateClientCertificate();
    const other = await generateClientCertificate('otra');
    fake = await startGraphFake({
      apps: [{ clientId: '0b1c2d3e-4f50-4617-8899-aabbccddeeff', certificates: [registered.cert] }],
    });
    const err = await rejectionOf(
      certificateClient(fake, { pem: `${other.key}\n${other.cert}` }).findUsersByEmployeeId('1'),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(GRAPH_ERROR.credentials);
    expect(err.message).toContain('el certificado de cliente no está registrado');
    expect(err.message).toContain('AADSTS700027');
    expect(err.message).not.toContain('PRIVATE KEY');

    expect(() => certificateClient(fake!, { path: '/nonexistent/app.pem' })).toThrow(
      /GRAPH_CLIENT_CERTIFICATE_PATH: no se puede leer \/nonexistent\/app.pem \(ENOENT\)/,
    );
    expect(() => certificateClient(fake!, { pem: registered.cert })).toThrow(
      /GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY: debe ser un PEM con la clave privada y el certificado/,
    );
  });
});

describe('Graph client: secrets', () => {
  it('never logs the client secret nor a password, while it logs its retries', async () => {
    const { logger, text } = captureLogger();
    const { fake, graph } = await setup({}, { logger });
    fake.setFaults({ throttle: { count: 1, retryAfterSeconds: 1 }, status500: 1 });
    const user = await graph.createUser(alumno('40111229', { password: 'Secreta#Inicial-77' }));
    await graph.resetPassword(user.id, 'Secreta#Nueva-88');
    const wrong = createGraphClient({
      tenantId: fake.tenantId,
      clientId: fake.app.clientId,
      clientSecret: 'clave-Filtrada-99',
      authorityHost: fake.authorityHost,
      baseUrl: fake.graphUrl,
      logger,
    });
    await rejectionOf(wrong.findUsersByEmployeeId('1'));
    const logged = text();
    expect(logged).toContain('reintento');
    expect(logged.split('\n').filter(Boolean)).toHaveLength(2);
    for (const secret of [
      'Secreta#Inicial-77',
      'Secreta#Nueva-88',
      'clave-Filtrada-99',
      fake.app.clientSecret,
    ]) {
      expect(logged).not.toContain(secret);
    }
  });
});

describe('Graph client: configuration', () => {
  it('refuses plain-http URLs, on which the SDK would silently drop the token', () => {
    const base = { tenantId: 't', clientId: 'c', clientSecret: 's' };
    expect(() => createGraphClient({ ...base, baseUrl: 'http://127.0.0.1:8443/v1.0' })).toThrow(ConfigError);
    expect(() => createGraphClient({ ...base, authorityHost: 'http://127.0.0.1:8443' })).toThrow(
      /GRAPH_AUTHORITY_HOST debe usar https/,
    );
    expect(() => createGraphClient({ ...base, clientSecret: ' ' })).toThrow(/Falta GRAPH_CLIENT_SECRET/);
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and nothing from a missing or malformed header', () => {
    const now = Date.UTC(2026, 2, 1, 12, 0, 0);
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Sun, 01 Mar 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Sun, 01 Mar 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('pronto', now)).toBeUndefined();
  });
});
