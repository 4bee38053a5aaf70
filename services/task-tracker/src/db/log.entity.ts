import { EntitySchema } from '@lucy/platform';

/** A Log row ("Log de Sistema"). */
export interface LogRow {
  id: string;
  level: string;
  module: string;
  message: string;
  detalles?: Record<string, unknown> | null;
  alumnoId?: string | null;
  usuario?: string | null;
  taskId?: string | null;
  occurredAt: Date;
}

/** Mapping of `tracker.log`. */
export const LogSchema = new EntitySchema<LogRow>({
  name: 'Log',
  tableName: 'log',
  properties: {
    id: { type: 'uuid', primary: true },
    level: { type: 'string' },
    module: { type: 'string' },
    message: { type: 'text' },
    detalles: { type: 'json', nullable: true },
    alumnoId: { type: 'string', nullable: true },
    usuario: { type: 'string', nullable: true },
    taskId: { type: 'uuid', nullable: true },
    occurredAt: { type: 'Date' },
  },
});
