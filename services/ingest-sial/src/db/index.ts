import { AlumnoSchema } from './alumno.entity.js';
import { ConfiguracionSchema } from './configuracion.entity.js';
import { Migration20261128000000_init } from './migrations/Migration20261128000000_init.js';
import { Migration20261207160000_sial_credenciales } from './migrations/Migration20261207160000_sial_credenciales.js';

export * from './alumno.entity.js';
export * from './configuracion.entity.js';
export * from './alumno.repository.js';
export * from './configuracion.repository.js';

/** The ORM settings of ingest-sial: its schema, entities and reviewed migrations. */
export const ingestOrm = {
  schema: 'ingest',
  entities: [AlumnoSchema, ConfiguracionSchema],
  migrations: [
    { name: 'Migration20261128000000_init', class: Migration20261128000000_init },
    {
      name: 'Migration20261207160000_sial_credenciales',
      class: Migration20261207160000_sial_credenciales,
    },
  ],
};
