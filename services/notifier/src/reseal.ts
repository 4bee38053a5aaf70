/**
 * Key rotation: re-seals the SMTP password staff stored in the admin's Configuración with the current key
 * (LUCY_SECRET_KEY_ID) when another key sealed it. Run after adding the new key to LUCY_SECRET_KEYS and making it
 * current; the old key can leave the keyring once every service's re-seal reports nothing left.
 */
import { runReseal } from '@lucy/platform';
import { notifierOrm } from './db/index.js';
import { resealMailSettings } from './settings.js';

await runReseal({
  service: 'notifier',
  orm: notifierOrm,
  reseal: async (knex, box) => ({ smtp_password: (await resealMailSettings(knex, box)) ? 1 : 0 }),
});
