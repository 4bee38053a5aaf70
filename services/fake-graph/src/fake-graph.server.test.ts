import { afterEach, describe, expect, it } from 'vitest';
import { STUDENT_SKU } from './directory.js';
import type { FakeGraph } from './fake-graph.server.js';
import { generateCertificate } from './tls.js';
import { createFakeGraph } from './fake-graph.server.js';
import { call, errorOf, makeClock, newUser, startFake } from './test-helpers.js';

let fake: FakeGraph | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function start(...args: Parameters<typeof startFake>): Promise<FakeGraph> {
  fake = await startFake(...args);
  return fake;
}

async function tokenRequest(f: FakeGraph, form: Record<string, string>, tenant = f.tenantId) {
  const res = await fetch(`${f.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const clientCredentials = (f: FakeGraph, extra: Record<string, string> = {}): Record<string, string> => ({
  grant_type: 'client_credentials',
  client_id: f.app.clientId,
  client_secret: f.app.clientSecret ?? '',
  scope: 'https://graph.microsoft.com/.default',
  ...extra,
});

describe('TLS', () => {
  it('is trusted through NODE_EXTRA_CA_CERTS, and a certificate nobody trusts is refused', async () => {
    const f = await start();
    expect(f.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${f.url}/healthz`)).status).toBe(200);
    const other = await createFakeGraph({ tls: await generateCertificate() });
    try {
      await expect(fetch(`${other.url}/healthz`)).rejects.toThrow();
    } finally {
      await other.close();
    }
  });
});

describe('token endpoint', () => {
  it('serves the openid configuration pointing at its own token endpoint', async () => {
    const f = await start();
    const res = await fetch(`${f.url}/${f.tenantId}/v2.0/.well-known/openid-configuration`);
    const body = (await res.json()) as Record<string, string>;
    expect(res.status).toBe(200);
    expect(body.token_endpoint).toBe(f.tokenUrl);
    expect(body.issuer).toBe(`${f.url}/${f.tenantId}/v2.0`);
    expect(body.jwks_uri).toContain('/discovery/v2.0/keys');
  });

  it('issues a bearer token for valid client credentials', async () => {
    const f = await start();
    const res = await tokenRequest(f, clientCredentials(f));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599 });
    const token = res.body.access_token as string;
    expect(token.split('.')).toHaveLength(3);
    expect((await call(f, 'GET', '/users', { token })).status).toBe(200);
  });

  it('answers a wrong secret with 401 invalid_client AADSTS7000215 in the Entra error shape', async () => {
    const f = await start();
    const res = await tokenRequest(f, clientCredentials(f, { client_secret: 'nope' }));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(res.body.error_codes).toEqual([7000215]);
    expect(res.body.error_description).toMatch(
      /^AADSTS7000215: Invalid client secret provided\..*\r\nTrace ID: /s,
    );
    expect(res.body.error_uri).toBe('https://login.microsoftonline.com/error?code=7000215');
    expect(res.body).toHaveProperty('trace_id');
    expect(res.body).toHaveProperty('correlation_id');
    expect(f.state().requests.tokenErrors).toBe(1);
  });

  it('a replaced client secret: the old one is refused from then on, tokens issued before stay valid', async () => {
    const f = await start();
    const before = await tokenRequest(f, clientCredentials(f));
    expect(before.status).toBe(200);
    const old = f.app.clientSecret ?? '';
    f.setClientSecret('secreto-nuevo-Qw8');
    const refused = await tokenRequest(f, clientCredentials(f, { client_secret: old }));
    expect([refused.status, refused.body.error_codes]).toEqual([401, [7000215]]);
    const fresh = await tokenRequest(f, clientCredentials(f, { client_secret: 'secreto-nuevo-Qw8' }));
    expect(fresh.status).toBe(200);
    for (const token of [before.body.access_token, fresh.body.access_token] as string[])
      expect((await call(f, 'GET', '/users', { token })).status).toBe(200);
    expect(() => f.setClientSecret('')).toThrow('must not be empty');
  });

  it('refuses an unknown tenant, an unknown client and a scope without /.default', async () => {
    const f = await start();
    const tenant = await tokenRequest(f, clientCredentials(f), 'otro.onmicrosoft.com');
    expect([tenant.status, tenant.body.error_codes]).toEqual([400, [90002]]);
    const client = await tokenRequest(
      f,
      clientCredentials(f, { client_id: 'ffffffff-0000-0000-0000-000000000000' }),
    );
    expect([client.status, client.body.error, client.body.error_codes]).toEqual([
      400,
      'unauthorized_client',
      [700016],
    ]);
    const scope = await tokenRequest(f, clientCredentials(f, { scope: 'User.Read' }));
    expect([scope.status, scope.body.error, scope.body.error_codes]).toEqual([
      400,
      'invalid_scope',
      [1002012],
    ]);
  });
});

describe('Graph authentication and error shape', () => {
  it('answers 401 InvalidAuthenticationToken without a token, with request ids in headers and innerError', async () => {
    const f = await start();
    const res = await call(f, 'GET', '/users', { token: null, headers: { 'client-request-id': 'mine-1' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    const requestId = res.headers.get('request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('client-request-id')).toBe('mine-1');
    expect(res.body).toEqual({
      error: {
        code: 'InvalidAuthenticationToken',
        message: 'Access token is empty.',
        innerError: {
          date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/) as unknown,
          'request-id': requestId,
          'client-request-id': 'mine-1',
        },
      },
    });
  });

  it('rejects a forged and an expired token', async () => {
    const clock = makeClock();
    const f = await start({ now: clock.now });
    const token = f.issueToken();
    const forged = `${token.slice(0, -4)}AAAA`;
    expect(errorOf(await call(f, 'GET', '/users', { token: forged })).code).toBe(
      'InvalidAuthenticationToken',
    );
    clock.advance(3600_000);
    const expired = await call(f, 'GET', '/users', { token });
    expect(expired.status).toBe(401);
    expect(errorOf(expired).message).toBe('Lifetime validation failed, the token is expired.');
  });

  it('answers unknown segments with 400 and wrong methods with 405', async () => {
    const f = await start();
    const unknown = await call(f, 'GET', '/groups');
    expect([unknown.status, errorOf(unknown).code]).toEqual([400, 'BadRequest']);
    const method = await call(f, 'PUT', '/subscribedSkus', { body: {} });
    expect([method.status, errorOf(method).message]).toEqual([
      405,
      'Specified HTTP method is not allowed for the request target.',
    ]);
  });
});

describe('users', () => {
  it('creates a user: 201 with the default property set, usageLocation only with $select', async () => {
    const f = await start();
    const created = await call(f, 'POST', '/users', {
      body: newUser('test-40111222', { usageLocation: 'AR' }),
    });
    expect(created.status).toBe(201);
    expect(Object.keys(created.body ?? {}).sort()).toEqual(
      [
        '@odata.context',
        'businessPhones',
        'displayName',
        'givenName',
        'id',
        'jobTitle',
        'mail',
        'mobilePhone',
        'officeLocation',
        'preferredLanguage',
        'surname',
        'userPrincipalName',
      ].sort(),
    );
    const id = created.body?.id as string;
    const plain = await call(f, 'GET', `/users/${id}`);
    expect(plain.body).not.toHaveProperty('usageLocation');
    const byUpn = await call(
      f,
      'GET',
      `/users/${encodeURIComponent('TEST-40111222@alumnos.example.edu.ar')}?$select=id,usageLocation`,
    );
    expect(byUpn.status).toBe(200);
    expect(byUpn.body).toMatchObject({ id, usageLocation: 'AR' });
    expect(byUpn.body).not.toHaveProperty('displayName');
  });

  it('validates the create body like Graph does', async () => {
    const f = await start();
    const missing = newUser('a1');
    delete missing.mailNickname;
    const cases: [Record<string, unknown>, string][] = [
      [missing, "Invalid value specified for property 'mailNickname' of resource 'User'."],
      [
        newUser('a2', { userPrincipalName: 'a2@gmail.com' }),
        'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.',
      ],
      [
        newUser('a3', { userPrincipalName: 'josé@alumnos.example.edu.ar' }),
        "Invalid value specified for property 'userPrincipalName' of resource 'User'.",
      ],
      [
        newUser('a4', { passwordProfile: { password: 'abcdefgh' } }),
        'The specified password does not comply with password complexity requirements. Please provide a different password.',
      ],
      [
        newUser('a5', { favouriteColour: 'blue' }),
        "Property 'favouriteColour' does not exist as a declared property or extension property.",
      ],
    ];
    for (const [body, message] of cases) {
      const res = await call(f, 'POST', '/users', { body });
      expect([res.status, errorOf(res).code, errorOf(res).message]).toEqual([
        400,
        'Request_BadRequest',
        message,
      ]);
    }
    expect(f.state().users).toBe(0);
  });

  it('refuses a duplicate UPN with ObjectConflict details', async () => {
    const f = await start();
    expect((await call(f, 'POST', '/users', { body: newUser('dup') })).status).toBe(201);
    const again = await call(f, 'POST', '/users', { body: newUser('DUP') });
    expect(again.status).toBe(400);
    expect(errorOf(again)).toMatchObject({
      code: 'Request_BadRequest',
      message: 'Another object with the same value for property userPrincipalName already exists.',
      details: [{ target: 'userPrincipalName', code: 'ObjectConflict' }],
    });
  });

  it('answers 404 Request_ResourceNotFound for an unknown user', async () => {
    const f = await start();
    const res = await call(f, 'GET', '/users/nadie@alumnos.example.edu.ar');
    expect(res.status).toBe(404);
    expect(errorOf(res)).toMatchObject({
      code: 'Request_ResourceNotFound',
      message:
        "Resource 'nadie@alumnos.example.edu.ar' does not exist or one of its queried reference-property objects are not present.",
    });
  });

  it('filters by userPrincipalName, employeeId and startswith, and pages with nextLink', async () => {
    const f = await start();
    for (const [alias, employeeId] of [
      ['test-1', '40000001'],
      ['test-2', '40000002'],
      ['otro-3', '40000003'],
    ]) {
      await call(f, 'POST', '/users', { body: newUser(alias as string, { employeeId }) });
    }
    const q = (filter: string): string =>
      `/users?$filter=${encodeURIComponent(filter)}&$select=userPrincipalName,employeeId`;
    const upn = await call(f, 'GET', q("userPrincipalName eq 'TEST-2@alumnos.example.edu.ar'"));
    expect(upn.body?.value).toEqual([
      { userPrincipalName: 'test-2@alumnos.example.edu.ar', employeeId: '40000002' },
    ]);
    const emp = await call(f, 'GET', q("employeeId eq '40000003'"));
    expect((emp.body?.value as unknown[]).length).toBe(1);
    const prefix = await call(f, 'GET', q("startswith(userPrincipalName,'test-')"));
    expect((prefix.body?.value as unknown[]).length).toBe(2);
    const bad = await call(f, 'GET', q("jobTitle ne 'x'"));
    expect([bad.status, errorOf(bad).code]).toEqual([400, 'Request_UnsupportedQuery']);

    const first = await call(f, 'GET', '/users?$top=2');
    expect((first.body?.value as unknown[]).length).toBe(2);
    const next = first.body?.['@odata.nextLink'] as string;
    expect(next.startsWith(`${f.graphUrl}/users?`)).toBe(true);
    const second = await call(f, 'GET', next.slice(f.graphUrl.length));
    expect((second.body?.value as unknown[]).length).toBe(1);
    expect(second.body).not.toHaveProperty('@odata.nextLink');
  });

  it('PATCH answers 204 and resets the password; weak passwords and apps without the role are refused', async () => {
    const f = await start({
      apps: [
        { clientId: 'app-1', clientSecret: 's1' },
        { clientId: 'app-2', clientSecret: 's2', passwordAdmin: false },
      ],
    });
    const id = (await call(f, 'POST', '/users', { body: newUser('pw') })).body?.id as string;
    const reset = { passwordProfile: { password: 'Nu3va!Clave', forceChangePasswordNextSignIn: true } };
    const ok = await call(f, 'PATCH', `/users/${id}`, { body: reset });
    expect([ok.status, ok.body]).toEqual([204, undefined]);
    expect(f.user(id)?.passwordProfile).toMatchObject({
      password: 'Nu3va!Clave',
      forceChangePasswordNextSignIn: true,
    });
    const weak = await call(f, 'PATCH', `/users/${id}`, { body: { passwordProfile: { password: 'short' } } });
    expect(weak.status).toBe(400);
    const denied = await call(f, 'PATCH', `/users/${id}`, { body: reset, token: f.issueToken('app-2') });
    expect([denied.status, errorOf(denied).code]).toEqual([403, 'Authorization_RequestDenied']);
  });

  it('deletes softly into deletedItems, restores, and purges', async () => {
    const f = await start();
    const id = (await call(f, 'POST', '/users', { body: newUser('test-del') })).body?.id as string;
    expect((await call(f, 'DELETE', `/users/${id}`)).status).toBe(204);
    expect((await call(f, 'GET', `/users/${id}`)).status).toBe(404);
    const noCast = await call(f, 'GET', '/directory/deletedItems');
    expect(noCast.status).toBe(400);
    const list = await call(f, 'GET', '/directory/deletedItems/microsoft.graph.user');
    const [item] = list.body?.value as Record<string, unknown>[];
    expect(item).toMatchObject({
      id,
      userPrincipalName: `${id.replace(/-/g, '')}test-del@alumnos.example.edu.ar`,
    });
    expect(item?.deletedDateTime).toEqual(expect.any(String));
    const restored = await call(f, 'POST', `/directory/deletedItems/${id}/restore`);
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({
      '@odata.type': '#microsoft.graph.user',
      id,
      userPrincipalName: 'test-del@alumnos.example.edu.ar',
    });
    expect((await call(f, 'GET', `/users/${id}`)).status).toBe(200);
    await call(f, 'DELETE', `/users/${id}`);
    expect((await call(f, 'DELETE', `/directory/deletedItems/${id}`)).status).toBe(204);
    expect((await call(f, 'POST', `/directory/deletedItems/${id}/restore`)).status).toBe(404);
  });
});

describe('licences', () => {
  it('requires both arrays, a usage location and a free seat; counts seats in subscribedSkus', async () => {
    const f = await start({ skus: [{ ...STUDENT_SKU, seats: 1 }] });
    const a = (await call(f, 'POST', '/users', { body: newUser('lic-a') })).body?.id as string;
    const b = (await call(f, 'POST', '/users', { body: newUser('lic-b', { usageLocation: 'AR' }) })).body
      ?.id as string;
    const add = { addLicenses: [{ skuId: STUDENT_SKU.skuId, disabledPlans: [] }], removeLicenses: [] };

    const partial = await call(f, 'POST', `/users/${a}/assignLicense`, {
      body: { addLicenses: add.addLicenses },
    });
    expect(errorOf(partial).message).toBe(
      "One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: removeLicenses.",
    );
    const noLocation = await call(f, 'POST', `/users/${a}/assignLicense`, { body: add });
    expect([noLocation.status, errorOf(noLocation).code, errorOf(noLocation).message]).toEqual([
      400,
      'Request_BadRequest',
      'License assignment cannot be done for user with invalid usage location.',
    ]);
    const ok = await call(f, 'POST', `/users/${b}/assignLicense`, { body: add });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({
      id: b,
      '@odata.context': expect.stringContaining('$metadata#users/$entity') as unknown,
    });

    const skus = await call(f, 'GET', '/subscribedSkus');
    expect((skus.body?.value as unknown[])[0]).toMatchObject({
      skuPartNumber: 'STANDARDWOFFPACK_STUDENT',
      skuId: STUDENT_SKU.skuId,
      consumedUnits: 1,
      prepaidUnits: { enabled: 1 },
      appliesTo: 'User',
      capabilityStatus: 'Enabled',
    });

    expect((await call(f, 'PATCH', `/users/${a}`, { body: { usageLocation: 'AR' } })).status).toBe(204);
    const full = await call(f, 'POST', `/users/${a}/assignLicense`, { body: add });
    expect([full.status, errorOf(full).message]).toEqual([
      400,
      `Subscription with SKU ${STUDENT_SKU.skuId} does not have any available licenses.`,
    ]);
    await call(f, 'DELETE', `/users/${b}`);
    expect((await call(f, 'POST', `/users/${a}/assignLicense`, { body: add })).status).toBe(200);
  });
});

describe('replication lag', () => {
  it('hides a just-created user for the configured time', async () => {
    const clock = makeClock();
    const f = await start({ now: clock.now, replicationLagMs: 20_000 });
    const id = (await call(f, 'POST', '/users', { body: newUser('lag') })).body?.id as string;
    expect((await call(f, 'GET', `/users/${id}`)).status).toBe(404);
    expect((await call(f, 'PATCH', `/users/${id}`, { body: { usageLocation: 'AR' } })).status).toBe(404);
    clock.advance(20_000);
    expect((await call(f, 'GET', `/users/${id}`)).status).toBe(200);
  });
});

describe('throttling and faults', () => {
  it('answers 429 with Retry-After once an app passes its writes per 150 s, and recovers with the window', async () => {
    const clock = makeClock();
    const f = await start({ now: clock.now, writeLimit: 2 });
    expect((await call(f, 'POST', '/users', { body: newUser('w1') })).status).toBe(201);
    clock.advance(60_000);
    expect((await call(f, 'POST', '/users', { body: newUser('w2') })).status).toBe(201);
    expect((await call(f, 'GET', '/users')).status).toBe(200);
    const throttled = await call(f, 'POST', '/users', { body: newUser('w3') });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('90');
    expect(errorOf(throttled).code).toBe('TooManyRequests');
    clock.advance(90_000);
    expect((await call(f, 'POST', '/users', { body: newUser('w3') })).status).toBe(201);
    expect(f.state().writes).toMatchObject({ limitPer150s: 2, total: 3, peakWindow: 2 });
  });

  it('injects 429, 503 and 403 for the next N requests, set over the admin endpoint', async () => {
    const f = await start();
    const set = await fetch(`${f.url}/__fake/faults`, {
      method: 'POST',
      body: JSON.stringify({
        throttle: { count: 1, retryAfterSeconds: 7 },
        status503: 1,
        forbidden: { count: 1, target: 'write' },
      }),
    });
    expect(set.status).toBe(200);
    const first = await call(f, 'GET', '/users');
    expect([first.status, first.headers.get('retry-after')]).toEqual([429, '7']);
    const second = await call(f, 'GET', '/users');
    expect([second.status, errorOf(second).code, second.headers.get('retry-after')]).toEqual([
      503,
      'ServiceNotAvailable',
      '1',
    ]);
    expect((await call(f, 'GET', '/users')).status).toBe(200);
    const write = await call(f, 'POST', '/users', { body: newUser('f1') });
    expect([write.status, errorOf(write).message]).toEqual([
      403,
      'Insufficient privileges to complete the operation.',
    ]);
    const state = (await (await fetch(`${f.url}/__fake/state`)).json()) as {
      requests: Record<string, number>;
      faults: object;
    };
    expect(state.faults).toEqual({});
    expect(state.requests).toMatchObject({ throttled: 1, faulted: 2 });
    expect((await fetch(`${f.url}/__fake/faults`, { method: 'POST', body: '{"nope":1}' })).status).toBe(400);
    await fetch(`${f.url}/__fake/reset`, { method: 'POST' });
    expect(f.state().requests.graph).toBe(0);
  });
});

describe('$batch', () => {
  it('runs up to 20 requests with per-request statuses and 424 for failed dependencies', async () => {
    const f = await start();
    const res = await call(f, 'POST', '/$batch', {
      body: {
        requests: [
          {
            id: '1',
            method: 'POST',
            url: '/users',
            headers: { 'Content-Type': 'application/json' },
            body: newUser('b1'),
          },
          { id: '2', method: 'GET', url: '/users/nadie@alumnos.example.edu.ar' },
          { id: '3', dependsOn: ['2'], method: 'GET', url: '/users' },
          {
            id: '4',
            dependsOn: ['1'],
            method: 'GET',
            url: "/users?$filter=userPrincipalName eq 'b1@alumnos.example.edu.ar'",
          },
        ],
      },
    });
    expect(res.status).toBe(200);
    const responses = res.body?.responses as { id: string; status: number; body?: Record<string, unknown> }[];
    expect(responses.map((r) => [r.id, r.status])).toEqual([
      ['1', 201],
      ['2', 404],
      ['3', 424],
      ['4', 200],
    ]);
    expect((responses[3]?.body?.value as unknown[]).length).toBe(1);

    const tooMany = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users' }));
    const over = await call(f, 'POST', '/$batch', { body: { requests: tooMany } });
    expect(over.status).toBe(400);
    const noType = await call(f, 'POST', '/$batch', {
      body: { requests: [{ id: '1', method: 'POST', url: '/users', body: newUser('x') }] },
    });
    expect([noType.status, errorOf(noType).message]).toEqual([
      400,
      'Write request id : 1 does not contain Content-Type header or body.',
    ]);
  });
});
