/**
 * Key rotation: re-seals the SIAL password staff stored in the Configuración when a key other than the current one
 * (LUCY_SECRET_KEY_ID) sealed it. Run after adding the new key to LUCY_SECRET_KEYS and making it current (the old
 * key still listed); the old key can leave the keyring once every service's re-seal reports nothing left.
 */
import { runReseal } from '@lucy/platform';
import { ingestOrm } from './db/index.js';
import { resealSialCredentials } from './sial-credentials.js';

await runReseal({
  service: 'ingest-sial',
  orm: ingestOrm,
  reseal: async (knex, box) => ({ sial_password: (await resealSialCredentials(knex, box)) ? 1 : 0 }),
});
