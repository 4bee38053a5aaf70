import { TipoEmail } from '@lucy/proto';
import type { TipoEmailConocido } from '../domain/index.js';

const TO_DB: Record<TipoEmailConocido, string> = {
  [TipoEmail.BIENVENIDA]: 'bienvenida',
  [TipoEmail.CREDENCIALES]: 'credenciales',
  [TipoEmail.PASSWORD_RESET]: 'password_reset',
  [TipoEmail.ENROLAMIENTO]: 'enrolamiento',
};
const FROM_DB = new Map(Object.entries(TO_DB).map(([k, v]) => [v, Number(k) as TipoEmailConocido]));

/** The column value of a kind. */
export function tipoToDb(tipo: TipoEmailConocido): string {
  return TO_DB[tipo];
}

/** The kind of a column value (UNSPECIFIED for an unknown one). */
export function tipoFromDb(value: string): TipoEmail {
  return FROM_DB.get(value) ?? TipoEmail.UNSPECIFIED;
}
