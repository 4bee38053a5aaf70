import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeSial, type FakeSial } from './fake-sial.server.js';

describe('the SIAL fake’s root page', () => {
  let sial: FakeSial;
  beforeAll(async () => {
    sial = await createFakeSial({ port: 0, sizes: { aspirantes: 5 } });
  });
  afterAll(() => sial.close());

  it('answers / with an HTML index of the endpoints, the fault switches and the state now, without auth', async () => {
    sial.setFaults({ status500: 2 });
    const res = await fetch(`${sial.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('/webservice/sial/V2/04/aspirantes/listas/');
    expect(html).toContain('/webservice/sial/V2/04/alumnos/datospersonales/');
    expect(html).toContain('POST /__fake/faults');
    expect(html).toContain('&quot;status500&quot;');
    // Its links lead somewhere: the first SIAL endpoint answers with credentials.
    const auth = `Basic ${Buffer.from('usuario:contrasena').toString('base64')}`;
    const list = await fetch(`${sial.url}/webservice/sial/V2/04/aspirantes/listas/`, {
      headers: { authorization: auth },
    });
    expect(list.status).toBe(500); // the first of the two faults just set
  });

  it('still answers 404 for other unknown paths', async () => {
    expect((await fetch(`${sial.url}/nada`)).status).toBe(404);
  });
});
