/**
 * The fake's root page (`GET /`): what `npm run up` links to, so a developer sees the endpoints, the fault switches
 * and the fake's current state instead of a 404. No auth, like the control endpoints.
 */
const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The HTML of the index page; `state` is what `GET /__fake/state` answers now. */
export function sialIndexPage(origin: string, basePath: string, state: unknown): string {
  const sial: [string, string][] = [
    [`${basePath}/aspirantes/listas/`, 'every record of the tipo (also preinscriptos, ingresantes)'],
    [
      `${basePath}/aspirantes/listas/202601010000`,
      'records modified at or after the date (AAAAMMDDHHMM, Córdoba)',
    ],
    [`${basePath}/aspirantes/listas/202601010000/202612312359`, 'records modified in [desde, hasta]'],
    [`${basePath}/alumnos/datospersonales/40000000`, 'personal data of one document ([] when unknown)'],
    ['/healthz', 'health, no auth'],
  ];
  const control: [string, string][] = [
    ['GET /__fake/state', 'request counters and the faults set now'],
    [
      'POST /__fake/faults',
      'set faults, e.g. {"status500": 2} or {"timeout": true, "endpoints": "personal"}',
    ],
    ['DELETE /__fake/faults', 'clear every fault'],
    ['POST /__fake/touch', '{"tipo": "aspirantes", "count": 3}: records modified now'],
    ['POST /__fake/records', '{"tipo": "ingresantes", "n": 10}: new records'],
    ['POST /__fake/patch', 'change fields of one record (see the README)'],
    [
      'POST /__fake/credentials',
      '{"user": "usuario", "password": "otra"}: the HTTP Basic pair accepted from now on',
    ],
    ['POST /__fake/reset', 'back to the seeded population and credentials, counters and faults cleared'],
  ];
  const rows = (items: [string, string][], link: boolean) =>
    items
      .map(
        ([path, what]) =>
          `<tr><td><code>${link ? `<a href="${escape(path)}">${escape(path)}</a>` : escape(path)}</code></td><td>${escape(what)}</td></tr>`,
      )
      .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SIAL fake</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}td{padding:.2rem .8rem;vertical-align:top}
pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head><body>
<h1>SIAL fake</h1>
<p>A stand-in for SIAL's web service at <code>${escape(origin)}</code>. The SIAL endpoints need HTTP Basic
(<code>usuario</code> / <code>contrasena</code> unless configured otherwise); the control endpoints do not.
Every fault and its options: <code>services/fake-sial/README.md</code>.</p>
<h2>SIAL endpoints (GET)</h2><table>${rows(sial, true)}</table>
<h2>Control</h2><table>${rows(control, false)}</table>
<pre>curl -X POST ${escape(origin)}/__fake/faults -H 'content-type: application/json' -d '{"status500": 2}'</pre>
<h2>State now</h2><pre>${escape(JSON.stringify(state, null, 2))}</pre>
</body></html>
`;
}
