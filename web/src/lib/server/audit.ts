import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AuditEntry } from './db/entities.js';

/** A change to record: who did what to what, from where. */
export interface AuditInput {
  actor: string;
  ip: string;
  action: string;
  target?: string;
  detalles?: Record<string, unknown>;
}

/** Filters of the audit page. */
export interface AuditFilter {
  actor?: string;
  action?: string;
  desde?: Date;
  hasta?: Date;
  /** Keyset cursor: entries strictly older than this `at|id`. */
  cursor?: string;
  limit?: number;
}

export interface Audit {
  record(entry: AuditInput): Promise<void>;
  list(filter: AuditFilter): Promise<{ entries: AuditEntry[]; next?: string }>;
  actions(): Promise<string[]>;
}

/** The audit trail: every change made through the admin, newest first. */
export function createAudit(orm: MikroORM, clock: () => Date = () => new Date()): Audit {
  const knex = () => orm.em.getKnex();
  return {
    async record(e) {
      await knex()
        .withSchema('web')
        .table('audit_entry')
        .insert({
          id: randomUUID(),
          at: clock(),
          actor: e.actor,
          ip: e.ip,
          action: e.action,
          target: e.target ?? '',
          detalles: e.detalles ? JSON.stringify(e.detalles) : null,
        });
    },
    async list(f) {
      const limit = Math.min(Math.max(f.limit ?? 50, 1), 200);
      const q = knex().withSchema('web').table('audit_entry').select('*');
      if (f.actor) q.where('actor', f.actor);
      if (f.action) q.where('action', f.action);
      if (f.desde) q.where('at', '>=', f.desde);
      if (f.hasta) q.where('at', '<', f.hasta);
      if (f.cursor) {
        const [at, id] = f.cursor.split('|');
        const when = new Date(at ?? '');
        if (!Number.isNaN(when.getTime()) && id && /^[0-9a-f-]{36}$/.test(id))
          q.whereRaw('(at, id) < (?, ?::uuid)', [when, id]);
      }
      const rows = (await q
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit + 1)) as {
        id: string;
        at: Date;
        actor: string;
        ip: string;
        action: string;
        target: string;
        detalles: Record<string, unknown> | null;
      }[];
      const entries = rows.slice(0, limit).map((r) => ({ ...r, at: new Date(r.at) }));
      const last = entries.at(-1);
      return {
        entries,
        ...(rows.length > limit && last ? { next: `${last.at.toISOString()}|${last.id}` } : {}),
      };
    },
    async actions() {
      const rows = (await knex()
        .withSchema('web')
        .table('audit_entry')
        .distinct('action')
        .orderBy('action')) as { action: string }[];
      return rows.map((r) => r.action);
    },
  };
}
