// The live feed of Tarea changes (server-sent events from /admin/api/eventos/, fed by WatchTareas).
import type { TareaRow } from '$lib/server/views';

type Listener = (t: TareaRow) => void;

export const live: { status: 'conectando' | 'en-vivo' | 'reconectando'; drops: number } = $state({
  status: 'conectando',
  drops: 0,
});

const listeners = new Set<Listener>();
const reconnectListeners = new Set<() => void>();
const liveListeners = new Set<() => void>();
let source: EventSource | undefined;

/** Opens the feed once per page load; EventSource reconnects by itself after a drop. */
export function startLive(): () => void {
  if (source) return () => undefined;
  const es = new EventSource('/admin/api/eventos/');
  source = es;
  let wasDown = false;
  es.addEventListener('listo', () => {
    live.status = 'en-vivo';
    for (const l of liveListeners) l();
    // Changes made while the feed was down were missed: the page reloads its data once.
    if (wasDown) for (const l of reconnectListeners) l();
    wasDown = false;
  });
  es.addEventListener('tarea', (e: MessageEvent<string>) => {
    const t = JSON.parse(e.data) as TareaRow;
    for (const l of listeners) l(t);
  });
  const down = () => {
    if (live.status !== 'reconectando') live.drops += 1;
    live.status = 'reconectando';
    wasDown = true;
  };
  es.addEventListener('caido', down);
  let stopped = false;
  let retry: ReturnType<typeof setTimeout> | undefined;
  es.onerror = () => {
    down();
    // EventSource gives up for good on a non-200 answer: the session ended (401) or the admin itself is being
    // replaced. Ask again in a few seconds; a page whose session ended goes to the login.
    if (es.readyState !== EventSource.CLOSED || stopped) return;
    retry = setTimeout(() => {
      void fetch('/admin/api/sesion/')
        .then((r) => {
          if (r.status === 401)
            location.assign(`/admin/login/?next=${encodeURIComponent(location.pathname)}`);
        })
        .catch(() => undefined)
        .finally(() => {
          if (stopped) return;
          source = undefined;
          stopCurrent = startLive();
        });
    }, 5_000);
  };
  let stopCurrent: (() => void) | undefined;
  return () => {
    stopped = true;
    clearTimeout(retry);
    stopCurrent?.();
    es.close();
    source = undefined;
  };
}

/** Calls `fn` for every Tarea change; returns the unsubscribe function. */
export function onTarea(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Calls `fn` when the feed comes back after a drop. */
export function onReconnect(fn: () => void): () => void {
  reconnectListeners.add(fn);
  return () => reconnectListeners.delete(fn);
}

/**
 * Calls `fn` each time the feed becomes live (its first connection included). A page whose data was read before
 * the feed listened (server-rendered) missed any change made in between: it reads the data it follows again here.
 */
export function onLive(fn: () => void): () => void {
  liveListeners.add(fn);
  return () => liveListeners.delete(fn);
}
