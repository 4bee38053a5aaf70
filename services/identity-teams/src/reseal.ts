/**
 * Key rotation of the vault: re-seals every stored temporary password sealed with a key other than the current
 * one (LUCY_SECRET_KEY_ID), and the secrets staff stored in the Configuración (the Moodle token, the Graph client
 * secret). Run after adding the new key to LUCY_SECRET_KEYS and making it current; the old key can leave the
 * keyring once this reports 0 left.
 */
import {
  createLogger,
  createOrm,
  parseEnv,
  platformEnvShape,
  runMain,
  secretBoxEnvShape,
  secretBoxFromConfig,
  z,
} from '@lucy/platform';
import { createVault, identityOrm } from './db/index.js';
import { resealSettings } from './settings.js';

await runMain(async () => {
  const env = parseEnv(
    z.object({
      DATABASE_URL: platformEnvShape.DATABASE_URL,
      LOG_LEVEL: platformEnvShape.LOG_LEVEL,
      ...secretBoxEnvShape,
    }),
  );
  const logger = createLogger({ service: 'identity-teams-reseal', level: env.LOG_LEVEL });
  const box = secretBoxFromConfig(env);
  const orm = await createOrm({ ...identityOrm, url: env.DATABASE_URL, logger });
  try {
    const vault = createVault({ knex: orm.em.getKnex(), box, clock: () => new Date() });
    const count = await vault.resealAll();
    logger.info({ resealed: count, currentKeyId: box.currentKeyId }, 'credentials re-sealed');
    const settings = await resealSettings(orm.em.getKnex(), box);
    logger.info({ resealed: settings, currentKeyId: box.currentKeyId }, 'settings secrets re-sealed');
  } finally {
    await orm.close(true);
  }
});
