import { MikroORM, type EntitySchema, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Migration } from '@mikro-orm/migrations';
import type { Logger } from './logger.js';
import { redactUrl } from './secrets.js';

export { MikroORM, EntitySchema, type EntityManager } from '@mikro-orm/postgresql';
export { Migration } from '@mikro-orm/migrations';

/** A reviewed migration file: its class, named `Migration<YYYYMMDDHHMMSS>_<what>`. */
export type MigrationClass = new (...args: never[]) => Migration;

/** Options of {@link createOrm}. */
export interface OrmOptions {
  /** postgres:// URL. */
  url: string;
  /** The service's own schema; every table and the migrations table live in it. */
  schema: string;
  entities: EntitySchema<never, never>[] | EntitySchema[];
  /** Reviewed migrations, in order. */
  migrations: { name: string; class: MigrationClass }[];
  logger?: Logger;
  /** Pool size; default 10. */
  poolMax?: number;
}

/** Initialises MikroORM 6 on PostgreSQL for one service schema, with its migrations registered. */
export async function createOrm(options: OrmOptions): Promise<MikroORM> {
  const config: Options = {
    clientUrl: options.url,
    schema: options.schema,
    entities: options.entities as EntitySchema[],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: { min: 0, max: options.poolMax ?? 10 },
    migrations: {
      tableName: `${options.schema}.mikro_orm_migrations`,
      migrationsList: options.migrations.map((m) => ({ name: m.name, class: m.class as never })),
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    debug: false,
    logger: (msg) => options.logger?.debug({ orm: msg }, 'mikro-orm'),
  };
  return MikroORM.init(config);
}

/** Applies pending migrations (idempotent) and returns the names applied. */
export async function migrate(orm: MikroORM, schema: string, logger?: Logger): Promise<string[]> {
  await orm.em.getConnection().execute(`create schema if not exists "${schema}"`);
  const migrator = orm.getMigrator();
  const applied = await migrator.up();
  logger?.info(
    { schema, applied: applied.map((m) => m.name) },
    applied.length ? 'migrations applied' : 'schema up to date',
  );
  return applied.map((m) => m.name);
}

/** Pending migrations (for readiness and `migrate --check`). */
export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}

/** `select 1` with the ORM's pool: the database readiness check. */
export async function pingDatabase(orm: MikroORM): Promise<void> {
  await orm.em.getConnection().execute('select 1');
}

/** A loggable description of a database URL. */
export function describeDatabase(url: string): string {
  return redactUrl(url);
}

/**
 * Entry point of a service's `migrate` script: applies its reviewed migrations to DATABASE_URL and exits.
 * With `--check`, applies nothing and exits 1 when migrations are pending (for CI and deploy hooks).
 */
export async function runMigrateMain(
  options: Omit<OrmOptions, 'url' | 'logger'> & { service: string },
): Promise<void> {
  const { createLogger } = await import('./logger.js');
  const { parseEnv, platformEnvShape, z } = await import('./config.js');
  const env = parseEnv(
    z.object({ DATABASE_URL: platformEnvShape.DATABASE_URL, LOG_LEVEL: platformEnvShape.LOG_LEVEL }),
  );
  const logger = createLogger({ service: `${options.service}-migrate`, level: env.LOG_LEVEL });
  const orm = await createOrm({ ...options, url: env.DATABASE_URL, logger });
  try {
    if (process.argv.includes('--check')) {
      const pending = await pendingMigrations(orm);
      logger.info({ pending }, pending.length ? 'migrations pending' : 'schema up to date');
      process.exitCode = pending.length ? 1 : 0;
    } else {
      await migrate(orm, options.schema, logger);
    }
  } finally {
    await orm.close(true);
  }
}
