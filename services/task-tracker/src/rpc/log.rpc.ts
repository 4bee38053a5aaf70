import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { isUuid, type FieldError } from '@lucy/platform';
import { LogLevel, type LogService } from '@lucy/proto';
import { pgDate } from '../db/tarea.repository.js';
import {
  assertValid,
  dateRange,
  decodeCursor,
  encodeCursor,
  enumName,
  pageSize,
  toLogEntry,
} from './mapping.js';
import { boundLogRpc } from './input.js';

/** Dependencies of {@link createLogRpc}. */
export interface LogRpcDeps {
  knex: Knex;
}

/** LogService: the Log table, newest first, keyset-paginated on (occurred_at, id). */
export function createLogRpc({ knex }: LogRpcDeps): ServiceImpl<typeof LogService> {
  return boundLogRpc({
    async listLogs(req) {
      const problems: FieldError[] = [];
      const size = pageSize(req.page?.pageSize ?? 0, problems);
      const { desde, hasta } = dateRange(req.desde, req.hasta, '', problems);
      const cursor = decodeCursor(req.page?.pageToken ?? '', 'page.pageToken', problems);
      for (const [i, l] of req.levels.entries()) {
        if (!LogLevel[l]) problems.push({ field: `levels[${i}]`, message: 'Nivel de log desconocido' });
      }
      if (req.taskId && !isUuid(req.taskId))
        problems.push({ field: 'taskId', message: 'El id de la tarea debe ser un UUID' });
      assertValid(problems);
      const where: string[] = [];
      const b: Knex.RawBinding[] = [];
      const levels = req.levels
        .filter((l) => l !== LogLevel.UNSPECIFIED)
        .map((l) => enumName(LogLevel, l).toUpperCase());
      if (levels.length) {
        where.push(`level in (select jsonb_array_elements_text(?::jsonb))`);
        b.push(JSON.stringify(levels));
      }
      if (req.module) {
        where.push('module = ?');
        b.push(req.module);
      }
      if (desde) {
        where.push('occurred_at >= ?::timestamptz');
        b.push(desde.toISOString());
      }
      if (hasta) {
        where.push('occurred_at < ?::timestamptz');
        b.push(hasta.toISOString());
      }
      if (req.alumnoId) {
        where.push('alumno_id = ?');
        b.push(req.alumnoId);
      }
      if (req.taskId) {
        where.push('task_id = ?::uuid');
        b.push(req.taskId);
      }
      if (req.search) {
        where.push(`message ilike ?`);
        b.push(`%${req.search.replace(/[%_\\]/g, '\\$&')}%`);
      }
      if (cursor) {
        where.push('(occurred_at, id) < (?::timestamptz, ?::uuid)');
        b.push(cursor.at, cursor.id);
      }
      const res = await knex.raw<{ rows: Record<string, unknown>[] }>(
        `select * from tracker.log ${where.length ? `where ${where.join(' and ')}` : ''}
         order by occurred_at desc, id desc limit ?`,
        [...b, size + 1],
      );
      const rows = res.rows.slice(0, size);
      const last = rows.at(-1);
      return {
        logs: rows.map(toLogEntry),
        page: {
          nextPageToken:
            res.rows.length > size && last ? encodeCursor(pgDate(last.occurred_at)!, String(last.id)) : '',
          totalEstimate: -1n,
        },
      };
    },
  });
}
