/**
 * The secrets staff store in a service's one-row settings table (the Graph client secret, the Moodle token, the
 * SIAL and SMTP passwords), sealed with the secret box, each bound to its column by its associated data. Here: the
 * key rotation every service runs the same way — re-seal each column a key other than the current one sealed, and
 * the `reseal` script that does it.
 */
import type { Knex } from '@mikro-orm/postgresql';
import { parseEnv, platformEnvShape, runMain, secretBoxEnvShape, secretBoxFromConfig, z } from './config.js';
import { createOrm, type OrmOptions } from './db.js';
import { createLogger } from './logger.js';
import type { SecretBox } from './secrets.js';

/** One sealed column of a one-row settings table (`id` = 1). */
export interface SealedSetting {
  schema: string;
  table: string;
  column: string;
  /** The associated data the value is sealed under. */
  aad: string;
}

/**
 * Re-seals with the current key each column of `settings` another key sealed, each only if nobody replaced it
 * meanwhile (a newer value is already sealed with the current key); the columns re-sealed.
 */
export async function resealSettingColumns(
  knex: Knex,
  box: SecretBox,
  settings: readonly SealedSetting[],
): Promise<string[]> {
  const done: string[] = [];
  for (const s of settings) {
    const table = () => knex.withSchema(s.schema).table(s.table);
    const row = (await table().select(s.column).where({ id: 1 }).first()) as
      Record<string, string | null> | undefined;
    const sealed = row?.[s.column];
    if (!sealed || !box.needsReseal(sealed)) continue;
    const resealed = box.seal(box.open(sealed, s.aad), s.aad);
    const changed = await table()
      .where({ id: 1, [s.column]: sealed })
      .update({ [s.column]: resealed });
    if (Number(changed) > 0) done.push(`${s.schema}.${s.table}.${s.column}`);
  }
  return done;
}

/** Options of {@link runReseal}. */
export interface ResealOptions {
  /** The service, for the log lines. */
  service: string;
  /** Its ORM settings (schema, entities, migrations). */
  orm: Omit<OrmOptions, 'url' | 'logger'>;
  /** Re-seals what the service stores; returns what it re-sealed, by kind, for the log. */
  reseal: (knex: Knex, box: SecretBox) => Promise<Record<string, number>>;
}

/**
 * The main of a service's `reseal` script: run after adding the new key to LUCY_SECRET_KEYS and making it current
 * (LUCY_SECRET_KEY_ID), the old key still listed; the old key can leave the keyring once every service's re-seal
 * reports nothing left.
 */
export function runReseal(options: ResealOptions): Promise<void> {
  return runMain(async () => {
    const env = parseEnv(
      z.object({
        DATABASE_URL: platformEnvShape.DATABASE_URL,
        LOG_LEVEL: platformEnvShape.LOG_LEVEL,
        ...secretBoxEnvShape,
      }),
    );
    const logger = createLogger({ service: `${options.service}-reseal`, level: env.LOG_LEVEL });
    const box = secretBoxFromConfig(env);
    const orm = await createOrm({ ...options.orm, url: env.DATABASE_URL, logger });
    try {
      const resealed = await options.reseal(orm.em.getKnex(), box);
      logger.info({ resealed, currentKeyId: box.currentKeyId }, 're-sealed with the current key');
    } finally {
      await orm.close(true);
    }
  });
}
