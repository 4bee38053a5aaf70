import { EntitySchema } from '@lucy/platform';

/** The account record of one alumno (`identity.cuenta`); read and written with knex in cuenta.repository.ts. */
export interface CuentaEntity {
  alumnoId: string;
  dni: string;
  upn: string;
  graphId?: string | null;
  estado: string;
}

export const CuentaSchema = new EntitySchema<CuentaEntity>({
  name: 'Cuenta',
  tableName: 'cuenta',
  properties: {
    alumnoId: { type: 'uuid', primary: true, fieldName: 'alumno_id' },
    dni: { type: 'string' },
    upn: { type: 'string' },
    graphId: { type: 'string', nullable: true, fieldName: 'graph_id' },
    estado: { type: 'string' },
  },
});
