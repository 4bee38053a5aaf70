import { MikroORM, type EntitySchema } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { AuditEntrySchema, LoginAttemptSchema, StaffSessionSchema, StaffUserSchema } from './entities.js';
import { Migration20261207000000_init } from './migrations/Migration20261207000000_init.js';

export const WEB_SCHEMA = 'web';

/** Opens MikroORM on the admin's own schema `web`, with its reviewed migrations registered. */
export async function createWebOrm(url: string, poolMax = 10): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: url,
    schema: WEB_SCHEMA,
    entities: [StaffUserSchema, StaffSessionSchema, LoginAttemptSchema, AuditEntrySchema] as EntitySchema[],
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    forceUtcTimezone: true,
    pool: { min: 0, max: poolMax },
    migrations: {
      tableName: `${WEB_SCHEMA}.mikro_orm_migrations`,
      migrationsList: [{ name: 'Migration20261207000000_init', class: Migration20261207000000_init }],
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    debug: false,
  });
}

/** Applies pending migrations (idempotent); returns the names applied. */
export async function migrateWeb(orm: MikroORM): Promise<string[]> {
  await orm.em.getConnection().execute(`create schema if not exists "${WEB_SCHEMA}"`);
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}
