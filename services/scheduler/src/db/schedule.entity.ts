import { EntitySchema } from '@lucy/platform';

/** `scheduler.interval_schedule`: every N periods (django-celery-beat `IntervalSchedule`). */
export interface IntervalScheduleRow {
  id: string;
  every: string;
  period: string;
  createdAt: Date;
}

/** `scheduler.crontab_schedule` (django-celery-beat `CrontabSchedule`, with its own time zone). */
export interface CrontabScheduleRow {
  id: string;
  minute: string;
  hour: string;
  dayOfWeek: string;
  dayOfMonth: string;
  monthOfYear: string;
  timezone: string;
  createdAt: Date;
}

/** `scheduler.solar_schedule` (django-celery-beat `SolarSchedule`). */
export interface SolarScheduleRow {
  id: string;
  event: string;
  latitude: number;
  longitude: number;
  createdAt: Date;
}

/** `scheduler.clocked_schedule` (django-celery-beat `ClockedSchedule`). */
export interface ClockedScheduleRow {
  id: string;
  clockedTime: Date;
  createdAt: Date;
}

export const IntervalScheduleSchema = new EntitySchema<IntervalScheduleRow>({
  name: 'IntervalSchedule',
  tableName: 'interval_schedule',
  properties: {
    id: { type: 'uuid', primary: true },
    every: { type: 'bigint' },
    period: { type: 'string' },
    createdAt: { type: 'Date' },
  },
});

export const CrontabScheduleSchema = new EntitySchema<CrontabScheduleRow>({
  name: 'CrontabSchedule',
  tableName: 'crontab_schedule',
  properties: {
    id: { type: 'uuid', primary: true },
    minute: { type: 'string' },
    hour: { type: 'string' },
    dayOfWeek: { type: 'string' },
    dayOfMonth: { type: 'string' },
    monthOfYear: { type: 'string' },
    timezone: { type: 'string' },
    createdAt: { type: 'Date' },
  },
});

export const SolarScheduleSchema = new EntitySchema<SolarScheduleRow>({
  name: 'SolarSchedule',
  tableName: 'solar_schedule',
  properties: {
    id: { type: 'uuid', primary: true },
    event: { type: 'string' },
    latitude: { type: 'double' },
    longitude: { type: 'double' },
    createdAt: { type: 'Date' },
  },
});

export const ClockedScheduleSchema = new EntitySchema<ClockedScheduleRow>({
  name: 'ClockedSchedule',
  tableName: 'clocked_schedule',
  properties: {
    id: { type: 'uuid', primary: true },
    clockedTime: { type: 'Date' },
    createdAt: { type: 'Date' },
  },
});
