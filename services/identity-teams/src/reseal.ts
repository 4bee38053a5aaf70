/**
 * Key rotation of the vault: re-seals every stored temporary password sealed with a key other than the current
 * one (LUCY_SECRET_KEY_ID), and the secrets staff stored in the Configuración (the Moodle token, the Graph client
 * secret). Run after adding the new key to LUCY_SECRET_KEYS and making it current; the old key can leave the
 * keyring once every service's re-seal reports nothing left.
 */
import { runReseal } from '@lucy/platform';
import { createVault, identityOrm } from './db/index.js';
import { resealSettings } from './settings.js';

await runReseal({
  service: 'identity-teams',
  orm: identityOrm,
  reseal: async (knex, box) => ({
    credenciales: await createVault({ knex, box, clock: () => new Date() }).resealAll(),
    configuracion: (await resealSettings(knex, box)) ? 1 : 0,
  }),
});
