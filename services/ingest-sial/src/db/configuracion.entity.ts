import { EntitySchema } from '@lucy/platform';

/** The singleton configuration row (`ingest.configuracion`, id 1). Columns per tipo: `<tipo>_dia_inicio`… */
export interface ConfiguracionRow {
  id: number;
  preinscriptosDiaInicio?: Date | null;
  preinscriptosDiaFin?: Date | null;
  preinscriptosEnviarEmail: boolean;
  preinscriptosActivarTeams: boolean;
  preinscriptosActivarMoodle: boolean;
  ultimaIngestaPreinscriptos?: Date | null;
  ultimaCantidadPreinscriptos: number;
  aspirantesDiaInicio?: Date | null;
  aspirantesDiaFin?: Date | null;
  aspirantesEnviarEmail: boolean;
  aspirantesActivarTeams: boolean;
  aspirantesActivarMoodle: boolean;
  ultimaIngestaAspirantes?: Date | null;
  ultimaCantidadAspirantes: number;
  ingresantesDiaInicio?: Date | null;
  ingresantesDiaFin?: Date | null;
  ingresantesEnviarEmail: boolean;
  ingresantesActivarTeams: boolean;
  ingresantesActivarMoodle: boolean;
  ultimaIngestaIngresantes?: Date | null;
  ultimaCantidadIngresantes: number;
  sialRequestsPorSegundo: number;
  sialConcurrencia: number;
  /** SIAL HTTP Basic user staff set (null: SIAL_USER); set together with the sealed password. */
  sialUsuario?: string | null;
  /** SIAL password sealed with the secret box (aad `ingest.configuracion:1:sial_password`); never in clear. */
  sialPasswordSealed?: string | null;
  actualizadoEn: Date;
  actualizadoPor: string;
}

/** Mapping of `ingest.configuracion`. */
export const ConfiguracionSchema = new EntitySchema<ConfiguracionRow>({
  name: 'Configuracion',
  tableName: 'configuracion',
  properties: {
    id: { type: 'integer', primary: true },
    preinscriptosDiaInicio: { type: 'Date', nullable: true },
    preinscriptosDiaFin: { type: 'Date', nullable: true },
    preinscriptosEnviarEmail: { type: 'boolean' },
    preinscriptosActivarTeams: { type: 'boolean' },
    preinscriptosActivarMoodle: { type: 'boolean' },
    ultimaIngestaPreinscriptos: { type: 'Date', nullable: true },
    ultimaCantidadPreinscriptos: { type: 'integer' },
    aspirantesDiaInicio: { type: 'Date', nullable: true },
    aspirantesDiaFin: { type: 'Date', nullable: true },
    aspirantesEnviarEmail: { type: 'boolean' },
    aspirantesActivarTeams: { type: 'boolean' },
    aspirantesActivarMoodle: { type: 'boolean' },
    ultimaIngestaAspirantes: { type: 'Date', nullable: true },
    ultimaCantidadAspirantes: { type: 'integer' },
    ingresantesDiaInicio: { type: 'Date', nullable: true },
    ingresantesDiaFin: { type: 'Date', nullable: true },
    ingresantesEnviarEmail: { type: 'boolean' },
    ingresantesActivarTeams: { type: 'boolean' },
    ingresantesActivarMoodle: { type: 'boolean' },
    ultimaIngestaIngresantes: { type: 'Date', nullable: true },
    ultimaCantidadIngresantes: { type: 'integer' },
    sialRequestsPorSegundo: { type: 'double' },
    sialConcurrencia: { type: 'integer' },
    sialUsuario: { type: 'string', nullable: true },
    sialPasswordSealed: { type: 'text', nullable: true },
    actualizadoEn: { type: 'Date' },
    actualizadoPor: { type: 'string' },
  },
});
