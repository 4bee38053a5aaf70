/**
 * Pure domain of the scheduler: schedule kinds (interval, crontab, solar, clocked), periodic-task rules,
 * missed-run policy, previews, validation and slot keys. No I/O; time always comes in as an argument.
 */
export {
  ScheduleValidationError,
  unwrapValidated,
  type FieldError,
  type Validated,
} from './validation.error.js';
export {
  DEFAULT_TIME_ZONE,
  formatUtcOffset,
  isValidTimeZone,
  zoneTransitions,
  type ZoneTransition,
} from './time-zone.util.js';
export {
  INTERVAL_PERIODS,
  MAX_INTERVAL_MS,
  MIN_INTERVAL_MS,
  describeInterval,
  intervalMs,
  validateInterval,
  type IntervalPeriod,
  type IntervalSchedule,
  type IntervalScheduleInput,
} from './interval.schedule.js';
export {
  compileCrontab,
  crontabFromExpression,
  crontabRawText,
  describeCrontab,
  validateCrontab,
  type CompiledCrontab,
  type CrontabSchedule,
  type CrontabScheduleInput,
} from './crontab.schedule.js';
export {
  DEFAULT_SOLAR_SEARCH_DAYS,
  SOLAR_EVENTS,
  describeSolar,
  validateSolar,
  type SolarEvent,
  type SolarSchedule,
  type SolarScheduleInput,
} from './solar.schedule.js';
export {
  describeClocked,
  validateClocked,
  type ClockedSchedule,
  type ClockedScheduleInput,
} from './clocked.schedule.js';
export {
  checkSchedule,
  describeSchedule,
  nextScheduleFire,
  scheduleTimeZone,
  validateSchedule,
  type Schedule,
  type ScheduleInput,
  type ScheduleKind,
} from './schedule.model.js';
export {
  DEFAULT_MISSED_RUN_CAP,
  DEFAULT_MISSED_RUN_POLICY,
  MAX_MISSED_RUN_CAP,
  MISSED_RUN_MODES,
  isExpired,
  isSingleShot,
  nextDue,
  validatePeriodicTask,
  type DueSlot,
  type MissedRunMode,
  type MissedRunPolicy,
  type PeriodicTask,
  type PeriodicTaskInput,
  type PeriodicTaskSpec,
  type PeriodicTaskTiming,
} from './periodic-task.model.js';
export {
  DEFAULT_MISSED_RUN_GRACE_MS,
  MAX_COUNTED_MISSED_RUNS,
  resolveMissedRuns,
  settleClaimedSlots,
  needsSeconds,
  slotTimeText,
  type ClaimedSlotDecision,
  type ClaimedSlotSettlement,
  type MissedRunDecision,
  type MissedRunResolution,
  type ResolveMissedRunsOptions,
} from './missed-runs.policy.js';
export {
  DEFAULT_PREVIEW_RUNS,
  MAX_PREVIEW_RUNS,
  previewSchedule,
  previewTask,
  type DstMarker,
  type PreviewOptions,
  type PreviewRun,
} from './schedule.preview.js';
export { validateTaskArgs, type RegisteredTaskSpec, type TaskKwargType } from './task-args.validator.js';
export { parseSlotKey, slotKey } from './slot-key.util.js';
export { INGESTION_MIN_GAP_MS, ingestionFrequencyWarning, shortestGapMs } from './ingestion-frequency.js';
