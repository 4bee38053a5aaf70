import { Migration20261207000000_init } from './migrations/Migration20261207000000_init.js';
import { Migration20261207160000_configuracion } from './migrations/Migration20261207160000_configuracion.js';

export * from './entrega.repository.js';
export * from './plantilla.repository.js';
export { tipoFromDb, tipoToDb } from './tipo.js';

/**
 * The ORM settings of the notifier: schema `notify` and its reviewed migrations. The tables are read and written
 * through the query builder (repositories), so no entity is mapped.
 */
export const notifierOrm = {
  schema: 'notify',
  entities: [],
  migrations: [
    { name: 'Migration20261207000000_init', class: Migration20261207000000_init },
    { name: 'Migration20261207160000_configuracion', class: Migration20261207160000_configuracion },
  ],
};
