import { Migration20261128120000_init } from './migrations/Migration20261128120000_init.js';
import { Migration20261207090000_missed_slot } from './migrations/Migration20261207090000_missed_slot.js';
import { FiredSlotSchema, PeriodicTaskSchema } from './periodic-task.entity.js';
import {
  ClockedScheduleSchema,
  CrontabScheduleSchema,
  IntervalScheduleSchema,
  SolarScheduleSchema,
} from './schedule.entity.js';

/** The ORM settings of the scheduler: its schema, entities and reviewed migrations. */
export const schedulerOrm = {
  schema: 'scheduler',
  entities: [
    IntervalScheduleSchema,
    CrontabScheduleSchema,
    SolarScheduleSchema,
    ClockedScheduleSchema,
    PeriodicTaskSchema,
    FiredSlotSchema,
  ] as never[],
  migrations: [
    { name: 'Migration20261128120000_init', class: Migration20261128120000_init },
    { name: 'Migration20261207090000_missed_slot', class: Migration20261207090000_missed_slot },
  ],
};

export * from './scheduler.repository.js';
