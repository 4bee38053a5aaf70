import { EntitySchema } from '@lucy/platform';

/** A Tarea row (read model). Writes go through the batched SQL of the projection, not the unit of work. */
export interface TareaRow {
  id: string;
  tipo?: string | null;
  estado: string;
  taskName: string;
  trigger: string;
  requestedBy: string;
  alumnoId?: string | null;
  alumnoNombre?: string | null;
  alumnoDni?: string | null;
  subject?: string | null;
  scheduledAt: Date;
  startedAt?: Date | null;
  finishedAt?: Date | null;
  durationMs: string;
  cantidadEntidades: string;
  detalles?: Record<string, unknown> | null;
  mensajeError?: string | null;
  attempts: number;
  parentId?: string | null;
  parametros?: Record<string, unknown> | null;
}

/** Mapping of `tracker.tarea` (the columns staff-facing code reads). */
export const TareaSchema = new EntitySchema<TareaRow>({
  name: 'Tarea',
  tableName: 'tarea',
  properties: {
    id: { type: 'uuid', primary: true },
    tipo: { type: 'string', nullable: true },
    estado: { type: 'string' },
    taskName: { type: 'string' },
    trigger: { type: 'string' },
    requestedBy: { type: 'string' },
    alumnoId: { type: 'string', nullable: true },
    alumnoNombre: { type: 'string', nullable: true },
    alumnoDni: { type: 'string', nullable: true },
    subject: { type: 'string', nullable: true },
    scheduledAt: { type: 'Date' },
    startedAt: { type: 'Date', nullable: true },
    finishedAt: { type: 'Date', nullable: true },
    durationMs: { type: 'bigint' },
    cantidadEntidades: { type: 'bigint' },
    detalles: { type: 'json', nullable: true },
    mensajeError: { type: 'text', nullable: true },
    attempts: { type: 'integer' },
    parentId: { type: 'uuid', nullable: true },
    parametros: { type: 'json', nullable: true },
  },
});
