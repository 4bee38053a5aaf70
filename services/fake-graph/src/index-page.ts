/**
 * The fake's root page (`GET /`): what `npm run up` links to, so a developer sees the endpoints, the fault switches
 * and the fake's current state instead of a 404. No auth, like the control endpoints.
 */
const escape = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The HTML of the index page; `state` is what `GET /__fake/state` answers now. */
export function graphIndexPage(origin: string, tenantId: string, state: unknown): string {
  const entra: [string, string][] = [
    [`GET /${tenantId}/v2.0/.well-known/openid-configuration`, 'OpenID configuration'],
    [`POST /${tenantId}/oauth2/v2.0/token`, 'client_credentials token (the fake app’s id and secret)'],
    [`GET /${tenantId}/discovery/v2.0/keys`, 'signing keys'],
  ];
  const graph: [string, string][] = [
    ['POST|GET /v1.0/users', 'create, list ($filter, $select, $top, paging)'],
    ['GET|PATCH|DELETE /v1.0/users/{id|upn}', 'read, update, delete (to the recycle bin)'],
    ['POST /v1.0/users/{id|upn}/assignLicense', 'licences'],
    ['GET /v1.0/subscribedSkus', 'licence seats'],
    ['GET /v1.0/directory/deletedItems/microsoft.graph.user', 'deleted users'],
    ['GET|DELETE /v1.0/directory/deletedItems/{id}', 'one deleted user; delete for good'],
    ['POST /v1.0/directory/deletedItems/{id}/restore', 'restore'],
    ['POST /v1.0/$batch', 'JSON batch'],
  ];
  const control: [string, string][] = [
    ['GET /__fake/state', 'request counters and the faults set now'],
    ['GET /__fake/users', 'every user of the directory'],
    [
      'POST /__fake/faults',
      'set faults: throttle, status503, status500, forbidden, replicationLagMs, latencyMs',
    ],
    ['DELETE /__fake/faults', 'clear every fault'],
    ['POST /__fake/seats', 'licence seats of a SKU'],
    ['POST /__fake/reset', 'empty directory, counters and faults cleared'],
    ['GET /healthz', 'health'],
  ];
  const rows = (items: [string, string][]) =>
    items
      .map(([path, what]) => `<tr><td><code>${escape(path)}</code></td><td>${escape(what)}</td></tr>`)
      .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Microsoft Graph fake</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}td{padding:.2rem .8rem;vertical-align:top}
pre{background:#f4f4f4;padding:1rem;overflow:auto}</style></head><body>
<h1>Microsoft Graph fake</h1>
<p>Entra ID and Microsoft Graph v1.0 at <code>${escape(origin)}</code> (tenant <code>${escape(tenantId)}</code>).
Graph calls need a bearer token from the token endpoint; the control endpoints need none. Details and every
fault's options: <code>services/fake-graph/README.md</code>.</p>
<h2>Entra ID</h2><table>${rows(entra)}</table>
<h2>Graph v1.0</h2><table>${rows(graph)}</table>
<h2>Control</h2><table>${rows(control)}</table>
<pre>curl --cacert .data/fake-graph/cert.pem -X POST ${escape(origin)}/__fake/faults -H 'content-type: application/json' -d '{"throttle": 2}'</pre>
<h2>State now</h2><pre>${escape(JSON.stringify(state, null, 2))}</pre>
</body></html>
`;
}
