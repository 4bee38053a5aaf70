/**
 * The fake driven by the real clients identity-teams uses: @azure/identity's ClientSecretCredential against the
 * token endpoint and @microsoft/microsoft-graph-client (TokenCredentialAuthenticationProvider, default middleware
 * chain with its RetryHandler) against Graph, over HTTPS trusted through NODE_EXTRA_CA_CERTS.
 */
import { ClientCertificateCredential, ClientSecretCredential } from '@azure/identity';
import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  GraphError,
  RetryHandlerOptions,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { STUDENT_SKU } from './directory.js';
import type { FakeGraph } from './fake-graph.server.js';
import { generateClientCertificate } from './tls.js';
import { makeClock, newUser, startFake } from './test-helpers.js';

const SCOPE = 'https://graph.microsoft.com/.default';

let fake: FakeGraph | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

function credential(f: FakeGraph, secret = f.app.clientSecret ?? ''): ClientSecretCredential {
  return new ClientSecretCredential(f.tenantId, f.app.clientId, secret, {
    authorityHost: f.authorityHost,
    disableInstanceDiscovery: true,
  });
}

function graphClient(f: FakeGraph): Client {
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(credential(f), { scopes: [SCOPE] }),
    baseUrl: `${f.url}/`,
    // Without it the client sends no Authorization header to a host that is not graph.microsoft.com.
    customHosts: new Set(['127.0.0.1']),
  });
}

/** The GraphError a call rejects with. */
async function graphError(promise: Promise<unknown>): Promise<GraphError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GraphError);
  return err as GraphError;
}

describe('@azure/identity ClientSecretCredential', () => {
  it('gets a token from the fake and serves the second one from its cache', async () => {
    fake = await startFake();
    const cred = credential(fake);
    const first = await cred.getToken(SCOPE);
    expect(first.token.split('.')).toHaveLength(3);
    expect(first.expiresOnTimestamp - Date.now()).toBeGreaterThan(3500_000);
    expect((await cred.getToken(SCOPE)).token).toBe(first.token);
    expect(fake.state().requests).toMatchObject({ openidConfiguration: 1, token: 1 });
  });

  it('fails with AADSTS7000215 for a wrong secret', async () => {
    fake = await startFake();
    await expect(credential(fake, 'wrong').getToken(SCOPE)).rejects.toThrow(
      /AADSTS7000215: Invalid client secret provided/,
    );
  });
});

describe('@azure/identity ClientCertificateCredential (client assertion)', () => {
  const certCredential = (f: FakeGraph, pem: string, clientId = f.app.clientId) =>
    new ClientCertificateCredential(
      f.tenantId,
      clientId,
      { certificate: pem },
      {
        authorityHost: f.authorityHost,
        disableInstanceDiscovery: true,
      },
    );

  it('gets a token with an assertion signed by a registered certificate, and calls Graph with it', async () => {
    const mine = await generateClientCertificate();
    fake = await startFake({
      apps: [{ clientId: 'b7e1c1a0-1111-4222-8333-944455556666', certificates: [mine.cert] }],
    });
    const cred = certCredential(fake, `${mine.key}\n${mine.cert}`);
    const token = await cred.getToken(SCOPE);
    expect(token.token.split('.')).toHaveLength(3);
    const client = Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: [SCOPE] }),
      baseUrl: `${fake.url}/`,
      customHosts: new Set(['127.0.0.1']),
    });
    const skus = (await client.api('/subscribedSkus').get()) as { value: unknown[] };
    expect(skus.value.length).toBeGreaterThan(0);
    expect(fake.state().requests.tokenErrors).toBe(0);
  });

  it('refuses an assertion signed by a certificate the app does not have (AADSTS700027), and a secret it has not', async () => {
    const registered = await generateClientCertificate();
    const stranger = await generateClientCertificate('stranger');
    fake = await startFake({
      apps: [{ clientId: 'b7e1c1a0-1111-4222-8333-944455556666', certificates: [registered.cert] }],
    });
    await expect(certCredential(fake, `${stranger.key}\n${stranger.cert}`).getToken(SCOPE)).rejects.toThrow(
      /AADSTS700027: Client assertion failed signature validation/,
    );
    // The stranger's key with the registered certificate's thumbprint: the signature does not verify.
    await expect(certCredential(fake, `${stranger.key}\n${registered.cert}`).getToken(SCOPE)).rejects.toThrow(
      /AADSTS700027/,
    );
    // A certificate-only app has no secret to match.
    await expect(credential(fake, 'anything').getToken(SCOPE)).rejects.toThrow(/AADSTS7000215/);
    expect(fake.state().requests.tokenErrors).toBe(3);
  });
});

describe('@microsoft/microsoft-graph-client against the fake', () => {
  it('provisions a student: create, get, filter, licence, password reset, delete, restore', async () => {
    fake = await startFake({ skus: [{ ...STUDENT_SKU, seats: 1 }] });
    const client = graphClient(fake);
    const upn = 'test-40111222@alumnos.example.edu.ar';
    const created = (await client
      .api('/users')
      .post(newUser('test-40111222', { employeeId: '40111222' }))) as { id: string };

    const got = (await client
      .api(`/users/${encodeURIComponent(upn)}`)
      .select(['id', 'usageLocation'])
      .get()) as Record<string, unknown>;
    expect(got).toMatchObject({ id: created.id, usageLocation: null });
    const found = (await client.api('/users').filter("employeeId eq '40111222'").get()) as {
      value: { id: string }[];
    };
    expect(found.value.map((u) => u.id)).toEqual([created.id]);

    const licence = { addLicenses: [{ skuId: STUDENT_SKU.skuId, disabledPlans: [] }], removeLicenses: [] };
    const noLocation = await graphError(client.api(`/users/${created.id}/assignLicense`).post(licence));
    expect([noLocation.statusCode, noLocation.code, noLocation.message]).toEqual([
      400,
      'Request_BadRequest',
      'License assignment cannot be done for user with invalid usage location.',
    ]);
    expect(noLocation.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await client.api(`/users/${created.id}`).patch({ usageLocation: 'AR' });
    await client.api(`/users/${created.id}/assignLicense`).post(licence);

    const other = (await client.api('/users').post(newUser('test-2', { usageLocation: 'AR' }))) as {
      id: string;
    };
    const noSeats = await graphError(client.api(`/users/${other.id}/assignLicense`).post(licence));
    expect(noSeats.message).toBe(
      `Subscription with SKU ${STUDENT_SKU.skuId} does not have any available licenses.`,
    );

    await client
      .api(`/users/${created.id}`)
      .patch({ passwordProfile: { password: 'Otra!Clave9', forceChangePasswordNextSignIn: true } });
    expect(fake.user(created.id)?.passwordProfile.password).toBe('Otra!Clave9');

    await client.api(`/users/${created.id}`).delete();
    expect((await graphError(client.api(`/users/${created.id}`).get())).statusCode).toBe(404);
    const deleted = (await client.api('/directory/deletedItems/microsoft.graph.user').get()) as {
      value: { id: string }[];
    };
    expect(deleted.value.map((u) => u.id)).toEqual([created.id]);
    await client.api(`/directory/deletedItems/${created.id}/restore`).post({});
    const back = (await client.api(`/users/${created.id}`).get()) as { userPrincipalName: string };
    expect(back.userPrincipalName).toBe(upn);
  });

  it('sees 404 during replication lag, then the user', async () => {
    const clock = makeClock();
    fake = await startFake({ now: clock.now });
    fake.setFaults({ replicationLagMs: 30_000 });
    const client = graphClient(fake);
    const created = (await client.api('/users').post(newUser('test-lag'))) as { id: string };
    const err = await graphError(client.api(`/users/${created.id}`).get());
    expect([err.statusCode, err.code]).toEqual([404, 'Request_ResourceNotFound']);
    clock.advance(30_000);
    expect(((await client.api(`/users/${created.id}`).get()) as { id: string }).id).toBe(created.id);
  });

  it('honours Retry-After on 429 through the RetryHandler, and exposes it when retries are off', async () => {
    fake = await startFake();
    const client = graphClient(fake);
    fake.setFaults({ throttle: { count: 1, retryAfterSeconds: 1 } });
    const started = Date.now();
    await client.api('/users').get();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.state().requests).toMatchObject({ throttled: 1, graph: 2 });

    fake.setFaults({ throttle: { count: 1, retryAfterSeconds: 42 } });
    const err = await graphError(
      client
        .api('/users')
        .middlewareOptions([new RetryHandlerOptions(0, 0)])
        .get(),
    );
    expect(err.statusCode).toBe(429);
    expect(err.code).toBe('TooManyRequests');
    expect(err.headers?.get('retry-after')).toBe('42');
  });

  it('sends a $batch with BatchRequestContent and reads each response', async () => {
    fake = await startFake();
    const client = graphClient(fake);
    const post = new Request(`${fake.graphUrl}/users`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(newUser('test-b1')),
    });
    const get = new Request(`${fake.graphUrl}/users/nadie@alumnos.example.edu.ar`, { method: 'GET' });
    const content = new BatchRequestContent([
      { id: '1', request: post },
      { id: '2', request: get },
    ]);
    const raw = (await client.api('/$batch').post(await content.getContent())) as ConstructorParameters<
      typeof BatchResponseContent
    >[0];
    const responses = new BatchResponseContent(raw);
    expect(responses.getResponseById('1')?.status).toBe(201);
    expect(responses.getResponseById('2')?.status).toBe(404);
    expect(fake.state().users).toBe(1);
  });

  it('gets 401 InvalidAuthenticationToken with a token the fake did not issue', async () => {
    fake = await startFake();
    const client = Client.initWithMiddleware({
      authProvider: { getAccessToken: () => Promise.resolve('not-a-token') },
      baseUrl: `${fake.url}/`,
      customHosts: new Set(['127.0.0.1']),
    });
    const err = await graphError(client.api('/users').get());
    expect([err.statusCode, err.code]).toEqual([401, 'InvalidAuthenticationToken']);
  });
});
