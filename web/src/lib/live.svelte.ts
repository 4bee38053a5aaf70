// The live feed of Tarea changes (server-sent events from /admin/api/eventos/, fed by WatchTareas).
import type { TareaRow } from '$lib/server/views';

type Listener = (t: TareaRow) => void;

export const live: { status: 'conectando' | 'en-vivo' | 'reconectando'; drops: number } = $state({
  status: 'conectando',
  drops: 0,
});

const listeners = new Set<Listener>();
const reconnectListeners = new Set<() => void>();
let source: EventSource | undefined;

/** Opens the feed once per page load; EventSource reconnects by itself after a drop. */
export function startLive(): () => void {
  if (source) return () => undefined;
  const es = new EventSource('/admin/api/eventos/');
  source = es;
  let wasDown = false;
  es.addEventListener('listo', () => {
    live.status = 'en-vivo';
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
  es.onerror = down;
  return () => {
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
