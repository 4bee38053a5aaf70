// The admin's configuration, from the environment (the same names the services and the Helm chart use).

/** Validated configuration of the admin. */
export interface WebConfig {
  databaseUrl: string;
  rpcToken: string;
  services: Record<ServiceName, string>;
  /** Minutes without activity after which a session ends. */
  sessionIdleMinutes: number;
  /** Hours after login after which a session ends whatever the activity. */
  sessionAbsoluteHours: number;
  migrateOnStart: boolean;
  /** identity-teams' IDENTITY_ADMIN_TOKEN, sent on its admin-only calls (revealing a password, held deletions). */
  identityAdminToken?: string;
  /** First admin created at start when no admin exists (both or neither). */
  bootstrap?: { username: string; password: string };
}

/** The services the admin talks to, by the name staff see in banners. */
export type ServiceName = 'task-tracker' | 'scheduler' | 'ingest-sial' | 'identity-teams' | 'notifier';

export const SERVICE_ENV: Record<ServiceName, { env: string; fallback: string }> = {
  'task-tracker': { env: 'LUCY_TRACKER_URL', fallback: 'http://127.0.0.1:7101' },
  scheduler: { env: 'LUCY_SCHEDULER_URL', fallback: 'http://127.0.0.1:7102' },
  'ingest-sial': { env: 'LUCY_INGEST_URL', fallback: 'http://127.0.0.1:7103' },
  'identity-teams': { env: 'LUCY_IDENTITY_URL', fallback: 'http://127.0.0.1:7104' },
  notifier: { env: 'LUCY_NOTIFIER_URL', fallback: 'http://127.0.0.1:7105' },
};

/** Thrown with one line naming every wrong variable. */
export class ConfigError extends Error {}

function int(env: Record<string, string | undefined>, name: string, def: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    problems.push(`${name} must be a positive integer`);
    return def;
  }
  return n;
}

/** Parses the environment; throws a ConfigError naming each wrong variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WebConfig {
  const problems: string[] = [];
  const databaseUrl = env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/lucy';
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must be a postgres:// URL');
  const rpcToken = env.RPC_TOKEN ?? '';
  if (rpcToken.length < 16) problems.push('RPC_TOKEN must have at least 16 characters');
  const services = {} as Record<ServiceName, string>;
  for (const [name, { env: key, fallback }] of Object.entries(SERVICE_ENV) as [
    ServiceName,
    { env: string; fallback: string },
  ][]) {
    const url = env[key] || fallback;
    if (!/^https?:\/\//.test(url)) problems.push(`${key} must be an http(s):// URL`);
    services[name] = url.replace(/\/+$/, '');
  }
  const user = env.LUCY_ADMIN_BOOTSTRAP_USER ?? '';
  const password = env.LUCY_ADMIN_BOOTSTRAP_PASSWORD ?? '';
  if (Boolean(user) !== Boolean(password))
    problems.push('LUCY_ADMIN_BOOTSTRAP_USER and LUCY_ADMIN_BOOTSTRAP_PASSWORD must be set together');
  if (password && password.length < 12)
    problems.push('LUCY_ADMIN_BOOTSTRAP_PASSWORD must have at least 12 characters');
  const config: WebConfig = {
    databaseUrl,
    rpcToken,
    services,
    sessionIdleMinutes: int(env, 'SESSION_IDLE_MINUTES', 30, problems),
    sessionAbsoluteHours: int(env, 'SESSION_ABSOLUTE_HOURS', 12, problems),
    migrateOnStart: /^(1|true|yes)$/i.test(env.MIGRATE_ON_START ?? 'true'),
    ...(env.IDENTITY_ADMIN_TOKEN ? { identityAdminToken: env.IDENTITY_ADMIN_TOKEN } : {}),
    ...(user && password ? { bootstrap: { username: user, password } } : {}),
  };
  if (problems.length) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  return config;
}
