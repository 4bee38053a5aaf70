/**
 * A small mailpit-like HTTP API over an {@link SmtpSink}, for developers and tests: list and search messages
 * (newest first), read one, read its raw source, delete, and set faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, readJsonBody, sendBody, sendJson, serverOrigin } from '@lucy/fake-kit';
import { FakeInputError, type SmtpSinkFaultsInput } from './faults.js';
import type { SinkAddress, SinkMessage, SmtpSink } from './smtp-sink.js';

/** Options of {@link createSmtpSinkApi}. */
export interface SmtpSinkApiOptions {
  sink: SmtpSink;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
}

/** A running HTTP API. */
export interface SmtpSinkApi {
  /** Base URL without trailing slash. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What `GET /api/messages` lists per message: no bodies (a credentials e-mail carries a password). */
export interface SinkMessageSummary {
  id: string;
  receivedAt: string;
  from: SinkAddress | null;
  to: SinkAddress[];
  cc: SinkAddress[];
  envelopeTo: string[];
  subject: string;
  size: number;
  attachments: number;
}

const summary = (m: SinkMessage): SinkMessageSummary => ({
  id: m.id,
  receivedAt: m.receivedAt,
  from: m.from,
  to: m.to,
  cc: m.cc,
  envelopeTo: m.envelope.to,
  subject: m.subject,
  size: m.size,
  attachments: m.attachments.length,
});

const MAX_BODY = 64 * 1024;

/** Whether a message matches the `to` and `subject` searches (case-insensitive substrings). */
function matches(m: SinkMessage, to: string | null, subject: string | null): boolean {
  if (subject !== null && !m.subject.toLowerCase().includes(subject.toLowerCase())) return false;
  if (to === null) return true;
  const needle = to.toLowerCase();
  const all = [...m.envelope.to, ...m.to.map((a) => a.address), ...m.cc.map((a) => a.address)];
  return all.some((a) => a.toLowerCase().includes(needle));
}

/**
 * Serves the API: `GET /api/messages?to=&subject=&limit=` → `{total, count, messages}` newest first;
 * `GET /api/messages/{id}` → the full message; `GET /api/messages/{id}/raw` → `message/rfc822`;
 * `DELETE /api/messages[/{id}]`; `GET|POST|DELETE /api/faults`; `GET /healthz`.
 */
export async function createSmtpSinkApi(options: SmtpSinkApiOptions): Promise<SmtpSinkApi> {
  const { sink } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://sink');
    const path = url.pathname.replace(/\/$/, '');
    const method = req.method ?? 'GET';
    try {
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/api/messages') {
        if (method === 'DELETE') return sendJson(res, 200, { deleted: sink.clear() });
        if (method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
        const limitRaw = url.searchParams.get('limit');
        const limit = limitRaw === null ? 50 : Number(limitRaw);
        if (!Number.isInteger(limit) || limit < 1)
          throw new FakeInputError('limit must be a positive integer');
        const to = url.searchParams.get('to');
        const subject = url.searchParams.get('subject');
        const found = sink.query((m) => matches(m, to, subject), limit);
        const page = found.page.map(summary);
        return sendJson(res, 200, { total: found.total, count: page.length, messages: page });
      }
      const one = /^\/api\/messages\/([^/]+)(\/raw)?$/.exec(path);
      if (one) {
        const id = decodeURIComponent(one[1] ?? '');
        if (method === 'DELETE' && !one[2]) {
          return sink.delete(id)
            ? sendJson(res, 200, { deleted: 1 })
            : sendJson(res, 404, { error: 'not found' });
        }
        if (method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
        if (one[2]) {
          const raw = sink.raw(id);
          if (!raw) return sendJson(res, 404, { error: 'not found' });
          return sendBody(res, 200, raw, 'message/rfc822');
        }
        const message = sink.message(id);
        return message ? sendJson(res, 200, message) : sendJson(res, 404, { error: 'not found' });
      }
      if (path === '/api/faults') {
        if (method === 'GET') return sendJson(res, 200, sink.faults());
        if (method === 'POST') {
          return sendJson(
            res,
            200,
            sink.setFaults((await readJsonBody(req, MAX_BODY)) as SmtpSinkFaultsInput),
          );
        }
        if (method === 'DELETE') {
          sink.clearFaults();
          return sendJson(res, 200, {});
        }
        return sendJson(res, 405, { error: 'method not allowed' });
      }
      return sendJson(res, 404, { error: 'not found' });
    } catch (err) {
      if (err instanceof FakeInputError) return sendJson(res, 400, { error: err.message });
      return sendJson(res, 500, { error: 'internal error' });
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  const address = await listen(server, options.port, options.host);
  return {
    url: serverOrigin('http', address),
    port: address.port,
    close: () => closeServer(server),
  };
}
