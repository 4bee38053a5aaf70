import { EntitySchema } from '@lucy/platform';

/** `scheduler.periodic_task` (django-celery-beat `PeriodicTask`, plus the missed-run policy). */
export interface PeriodicTaskRow {
  id: string;
  name: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  enabled: boolean;
  oneOff: boolean;
  startTime?: Date | null;
  expires?: Date | null;
  description: string;
  lastRunAt?: Date | null;
  totalRunCount: string;
  dateChanged: Date;
  intervalId?: string | null;
  crontabId?: string | null;
  solarId?: string | null;
  clockedId?: string | null;
  missedRunPolicy: string;
  missedRunCap: number;
  createdAt: Date;
}

/** `scheduler.fired_slot`: one row per (periodic task, due time) fired; the durable backstop against double firing. */
export interface FiredSlotRow {
  periodicTaskId: string;
  dueAt: Date;
  taskId: string;
  fencingToken: string;
  claimedAt: Date;
  firedAt?: Date | null;
  missedAt?: Date | null;
  missedDecision?: string | null;
}

export const PeriodicTaskSchema = new EntitySchema<PeriodicTaskRow>({
  name: 'PeriodicTask',
  tableName: 'periodic_task',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string', unique: true },
    task: { type: 'string' },
    args: { type: 'json' },
    kwargs: { type: 'json' },
    enabled: { type: 'boolean' },
    oneOff: { type: 'boolean' },
    startTime: { type: 'Date', nullable: true },
    expires: { type: 'Date', nullable: true },
    description: { type: 'text' },
    lastRunAt: { type: 'Date', nullable: true },
    totalRunCount: { type: 'bigint' },
    dateChanged: { type: 'Date' },
    intervalId: { type: 'uuid', nullable: true },
    crontabId: { type: 'uuid', nullable: true },
    solarId: { type: 'uuid', nullable: true },
    clockedId: { type: 'uuid', nullable: true },
    missedRunPolicy: { type: 'string' },
    missedRunCap: { type: 'integer' },
    createdAt: { type: 'Date' },
  },
});

export const FiredSlotSchema = new EntitySchema<FiredSlotRow>({
  name: 'FiredSlot',
  tableName: 'fired_slot',
  properties: {
    periodicTaskId: { type: 'uuid', primary: true },
    dueAt: { type: 'Date', primary: true },
    taskId: { type: 'uuid' },
    fencingToken: { type: 'bigint' },
    claimedAt: { type: 'Date' },
    firedAt: { type: 'Date', nullable: true },
    missedAt: { type: 'Date', nullable: true },
    missedDecision: { type: 'string', nullable: true },
  },
});
