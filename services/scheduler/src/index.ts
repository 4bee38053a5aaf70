// @lucy/scheduler: periodic tasks (django-celery-beat parity) fired by one leader among replicas.
export { loadConfig, schedulerEnvSchema, type SchedulerConfig } from './config.js';
export { createScheduler, type Scheduler, type SchedulerOptions } from './scheduler.js';
export { CHANGED_SUBJECT } from './engine/firing.engine.js';
export { schedulerOrm } from './db/index.js';
