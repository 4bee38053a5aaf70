import { AlumnoSchema } from './alumno.entity.js';
import { ConfiguracionSchema } from './configuracion.entity.js';
import { Migration20261128000000_init } from './migrations/Migration20261128000000_init.js';

export * from './alumno.entity.js';
export * from './configuracion.entity.js';
export * from './alumno.repository.js';
export * from './configuracion.repository.js';

/** The ORM settings of ingest-sial: its schema, entities and reviewed migrations. */
export const ingestOrm = {
  schema: 'ingest',
  entities: [AlumnoSchema, ConfiguracionSchema],
  migrations: [{ name: 'Migration20261128000000_init', class: Migration20261128000000_init }],
};
