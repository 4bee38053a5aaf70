import { boolVar, intVar, parseEnv, platformEnvShape, portVar, z } from '@lucy/platform';

/** Environment of task-tracker: the platform variables plus its own. */
export const trackerEnvSchema = z.object({
  ...platformEnvShape,
  RPC_PORT: portVar(7101),
  TRACKER_RETENTION_DAYS: intVar(90, 1),
  TRACKER_STUCK_AFTER_SECONDS: intVar(300, 10),
  MIGRATE_ON_START: boolVar(false),
});

/** Validated, frozen configuration. */
export type TrackerConfig = Readonly<z.infer<typeof trackerEnvSchema>>;

/** Parses and validates the environment; throws a one-line ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): TrackerConfig {
  return parseEnv(trackerEnvSchema, env);
}
