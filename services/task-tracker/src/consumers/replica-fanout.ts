import { randomUUID } from 'node:crypto';
import type { Knex } from '@mikro-orm/postgresql';
import { errorMessage, isUuid, type Logger, type NatsHandles, type Names } from '@lucy/platform';
import { findTareas } from '../db/tarea.repository.js';
import type { Broadcaster } from '../domain/broadcaster.js';

/** Canonical subject of "these Tareas changed" between tracker replicas (core NATS, not stored). */
export const TRACKER_CHANGED_SUBJECT = 'lucy.tracker.changed';

/** Options of {@link createReplicaFanout}. */
export interface ReplicaFanoutOptions {
  nats: NatsHandles;
  names: Names;
  knex: Knex;
  /** This replica's in-process broadcaster (what its WatchTareas streams subscribe to). */
  local: Broadcaster;
  logger: Logger;
  /** How long a replica gathers notified ids before one read, ms; default 50. */
  coalesceMs?: number;
}

/** A {@link Broadcaster} whose changes reach the WatchTareas subscribers of every replica. */
export interface ReplicaFanout extends Broadcaster {
  start(): void;
  stop(): Promise<void>;
}

interface ChangedNotice {
  from: string;
  ids: string[];
}

/**
 * Fans projected Tarea changes out to every task-tracker replica. The durable consumers split the projection
 * between replicas, so each replica projects only part of the changes; without this a WatchTareas client sees
 * only what the replica serving it happened to project. After each commit a replica publishes its local changes
 * to its own subscribers (as before) and the changed ids on `lucy.tracker.changed`; every other replica that has
 * WatchTareas subscribers gathers the ids for {@link ReplicaFanoutOptions.coalesceMs} and reads their current
 * state in one query. A replica without subscribers ignores the notices. Notices are core NATS (at most once):
 * a lost one delays nothing durable, and the next change of the same Tarea is streamed as usual.
 */
export function createReplicaFanout(options: ReplicaFanoutOptions): ReplicaFanout {
  const { nats, names, knex, local, logger } = options;
  const coalesceMs = options.coalesceMs ?? 50;
  const subject = names.full(TRACKER_CHANGED_SUBJECT);
  // Per process, not INSTANCE_ID: two replicas configured with the same name must still hear each other.
  const self = randomUUID();
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> = Promise.resolve();
  let subscription: ReturnType<NatsHandles['nc']['subscribe']> | undefined;

  const flush = () => {
    timer = undefined;
    const ids = [...pending];
    pending.clear();
    reading = reading
      .then(async () => {
        if (local.size === 0) return;
        local.publish(await findTareas(knex, ids));
      })
      .catch((err: unknown) =>
        logger.warn({ err: errorMessage(err), tareas: ids.length }, 'changes of other replicas not streamed'),
      );
  };

  const receive = (data: Uint8Array) => {
    if (local.size === 0) return;
    let notice: ChangedNotice;
    try {
      notice = JSON.parse(new TextDecoder().decode(data)) as ChangedNotice;
    } catch {
      return; // Not ours (the subject is internal to the tracker); nothing to stream.
    }
    if (notice.from === self || !Array.isArray(notice.ids)) return;
    for (const id of notice.ids) if (typeof id === 'string' && isUuid(id)) pending.add(id);
    if (pending.size > 0) timer ??= setTimeout(flush, coalesceMs);
  };

  return {
    publish(changes) {
      local.publish(changes);
      if (changes.length === 0 || nats.nc.isClosed()) return;
      const notice: ChangedNotice = { from: self, ids: changes.map((c) => c.id) };
      try {
        nats.nc.publish(subject, JSON.stringify(notice));
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'change notice not published to the other replicas');
      }
    },
    subscribe: (listener) => local.subscribe(listener),
    get size() {
      return local.size;
    },
    start() {
      subscription = nats.nc.subscribe(subject, { callback: (_err, msg) => receive(msg.data) });
    },
    async stop() {
      subscription?.unsubscribe();
      clearTimeout(timer);
      await reading;
    },
  };
}
