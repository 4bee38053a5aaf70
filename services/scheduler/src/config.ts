import { boolVar, intVar, parseEnv, platformEnvShape, portVar, z } from '@lucy/platform';

/** Environment of the scheduler: the platform variables plus its own. */
export const schedulerEnvSchema = z.object({
  ...platformEnvShape,
  RPC_PORT: portVar(7102),
  /** How long a leader lease lasts unless renewed, in ms (renewed every third of it). */
  SCHEDULER_LEASE_TTL_MS: intVar(10_000, 300),
  /** Longest sleep of the firing loop, in ms, so a clock jump or missed wake-up is noticed quickly. */
  SCHEDULER_TICK_MAX_MS: intVar(1000, 10),
  MIGRATE_ON_START: boolVar(false),
});

/** Validated, frozen configuration. */
export type SchedulerConfig = Readonly<z.infer<typeof schedulerEnvSchema>>;

/** Parses and validates the environment; throws a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): SchedulerConfig {
  return parseEnv(schedulerEnvSchema, env);
}
