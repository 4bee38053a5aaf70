/**
 * Key rotation: re-seals the SIAL password staff stored in the Configuración when a key other than the current one
 * (LUCY_SECRET_KEY_ID) sealed it. Run after adding the new key to LUCY_SECRET_KEYS and making it current (the old
 * key still listed); the old key can leave the keyring once this and identity-teams' re-seal report nothing left.
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
import { ingestOrm } from './db/index.js';
import { resealSialCredentials } from './sial-credentials.js';

await runMain(async () => {
  const env = parseEnv(
    z.object({
      DATABASE_URL: platformEnvShape.DATABASE_URL,
      LOG_LEVEL: platformEnvShape.LOG_LEVEL,
      ...secretBoxEnvShape,
    }),
  );
  const logger = createLogger({ service: 'ingest-sial-reseal', level: env.LOG_LEVEL });
  const box = secretBoxFromConfig(env);
  const orm = await createOrm({ ...ingestOrm, url: env.DATABASE_URL, logger });
  try {
    const resealed = await resealSialCredentials(orm.em.getKnex(), box);
    logger.info({ resealed: resealed ? 1 : 0, currentKeyId: box.currentKeyId }, 'SIAL password re-sealed');
  } finally {
    await orm.close(true);
  }
});
