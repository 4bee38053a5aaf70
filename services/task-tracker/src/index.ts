// @lucy/task-tracker: the Tarea and Log projection and the TaskService/LogService APIs.
export { loadConfig, trackerEnvSchema, type TrackerConfig } from './config.js';
export { startTracker, type Tracker, type TrackerOptions } from './tracker.js';
export { trackerOrm } from './db/index.js';
export * from './domain/projection.js';
