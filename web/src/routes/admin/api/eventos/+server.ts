import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { describeFailure } from '$lib/server/services';
import { tareaRow } from '$lib/server/views';
import type { RequestHandler } from './$types';

/**
 * Server-sent events of Tarea changes: one WatchTareas stream per open page. `listo` once the tracker answers,
 * `tarea` per change, `caido` when the tracker stream fails (the browser reconnects after `retry`).
 */
export const GET: RequestHandler = async (event) => {
  requireRole(event, 'lector');
  const { services, config, auth } = await getApp();
  const token = event.locals.sessionToken;
  const abort = new AbortController();
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let open = true;
      const send = (text: string) => {
        if (!open) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          open = false;
        }
      };
      send('retry: 3000\n\n');
      // The session is checked again with every keep-alive: a logout, an expiry or a disabled account ends the
      // stream (the browser's reconnection then meets the login check).
      const ping = setInterval(() => {
        void auth.validate(token).then(
          (staff) => (staff ? send(': ping\n\n') : abort.abort()),
          () => undefined,
        );
      }, 15_000);
      try {
        const ready = await fetch(`${config.services['task-tracker']}/readyz`, {
          signal: AbortSignal.timeout(2_000),
        }).catch(() => undefined);
        if (!ready?.ok) throw new Error('task-tracker not ready');
        send('event: listo\ndata: {}\n\n');
        for await (const res of services.tasks.watchTareas({}, { signal: abort.signal, timeoutMs: 0 })) {
          if (res.tarea) send(`event: tarea\ndata: ${JSON.stringify(tareaRow(res.tarea))}\n\n`);
        }
        if (!abort.signal.aborted) throw new Error('stream ended');
      } catch (err) {
        if (!abort.signal.aborted)
          send(
            `event: caido\ndata: ${JSON.stringify({ message: describeFailure('task-tracker', err) })}\n\n`,
          );
      } finally {
        clearInterval(ping);
        open = false;
        try {
          controller.close();
        } catch {
          /* already closed by the client */
        }
      }
    },
    cancel() {
      abort.abort();
    },
  });
  return new Response(stream, {
    headers: {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
  });
};
