import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGraph } from './fake-graph.server.js';
import { startFake } from './test-helpers.js';

describe('the Graph fake’s root page', () => {
  let fake: FakeGraph;
  beforeAll(async () => {
    fake = await startFake();
  });
  afterAll(() => fake.close());

  it('answers / with an HTML index of Entra, Graph and control endpoints and the state now, without a token', async () => {
    fake.setFaults({ throttle: 2 });
    const res = await fetch(`${fake.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain(`/${fake.tenantId}/oauth2/v2.0/token`);
    expect(html).toContain('/v1.0/users');
    expect(html).toContain('POST /__fake/faults');
    expect(html).toContain('&quot;throttle&quot;');
  });

  it('still answers 404 for other unknown paths', async () => {
    expect((await fetch(`${fake.url}/nada`)).status).toBe(404);
  });
});
