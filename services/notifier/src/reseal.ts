/**
 * Key rotation: re-seals the SMTP password staff stored in the admin's Configuración with the current key
 * (LUCY_SECRET_KEY_ID) when another key sealed it. Run after adding the new key to LUCY_SECRET_KEYS and making it
 * current (and after identity-teams' own re-seal); the old key can leave the key ring once every service re-sealed.
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
import { notifierOrm } from './db/index.js';
import { resealMailSettings } from './settings.js';

await runMain(async () => {
  const env = parseEnv(
    z.object({
      DATABASE_URL: platformEnvShape.DATABASE_URL,
      LOG_LEVEL: platformEnvShape.LOG_LEVEL,
      ...secretBoxEnvShape,
    }),
  );
  const logger = createLogger({ service: 'notifier-reseal', level: env.LOG_LEVEL });
  const box = secretBoxFromConfig(env);
  const orm = await createOrm({ ...notifierOrm, url: env.DATABASE_URL, logger });
  try {
    const resealed = await resealMailSettings(orm.em.getKnex(), box);
    logger.info({ resealed: resealed ? 1 : 0, currentKeyId: box.currentKeyId }, 'smtp password re-sealed');
  } finally {
    await orm.close(true);
  }
});
