import { CuentaSchema } from './cuenta.entity.js';
import { Migration20261207000000_init } from './migrations/Migration20261207000000_init.js';
import { Migration20261207080000_email_enviado } from './migrations/Migration20261207080000_email_enviado.js';
import { Migration20261207120000_adopcion } from './migrations/Migration20261207120000_adopcion.js';
import { Migration20261207130000_configuracion } from './migrations/Migration20261207130000_configuracion.js';
import { Migration20261207150000_graph_secret } from './migrations/Migration20261207150000_graph_secret.js';

export * from './cuenta.entity.js';
export * from './cuenta.repository.js';
export * from './credencial.repository.js';
export * from './eliminacion.repository.js';
export * from './rate-bucket.js';

/** The ORM settings of identity-teams: its schema, entities and reviewed migrations. */
export const identityOrm = {
  schema: 'identity',
  entities: [CuentaSchema],
  migrations: [
    { name: 'Migration20261207000000_init', class: Migration20261207000000_init },
    { name: 'Migration20261207080000_email_enviado', class: Migration20261207080000_email_enviado },
    { name: 'Migration20261207120000_adopcion', class: Migration20261207120000_adopcion },
    { name: 'Migration20261207130000_configuracion', class: Migration20261207130000_configuracion },
    { name: 'Migration20261207150000_graph_secret', class: Migration20261207150000_graph_secret },
  ],
};
