import type { TareaState } from './projection.js';

/** Listener of projected changes. */
export type TareaListener = (tarea: TareaState) => void;

/**
 * In-process fan-out of Tarea changes, fed by the projection after each commit. Across replicas,
 * `consumers/replica-fanout.ts` wraps it so every replica's subscribers see every replica's changes.
 */
export interface Broadcaster {
  publish(changes: readonly TareaState[]): void;
  subscribe(listener: TareaListener): () => void;
  readonly size: number;
}

/** Creates a {@link Broadcaster}. A throwing listener is dropped, never breaking the projection. */
export function createBroadcaster(): Broadcaster {
  const listeners = new Set<TareaListener>();
  return {
    publish(changes) {
      for (const l of listeners) {
        for (const c of changes) {
          try {
            l(c);
          } catch {
            listeners.delete(l);
            break;
          }
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get size() {
      return listeners.size;
    },
  };
}
