/**
 * Who receives an alumno's e-mails: the personal address, falling back to the institutional one (the original
 * system's rule). Unlike the original, an address that is blank or not an address is skipped, and an alumno
 * with neither gets an error staff can act on instead of a silent `False`.
 */
import { PermanentError } from '@lucy/platform';

/** The alumno's addresses, as the registry stores them (either may be null or blank). */
export interface DireccionesAlumno {
  readonly emailPersonal?: string | null | undefined;
  readonly emailInstitucional?: string | null | undefined;
}

/** The chosen recipient and where it came from. */
export interface Destinatario {
  readonly email: string;
  readonly origen: 'personal' | 'institucional';
}

// One mailbox, no display name: enough to refuse blanks, typos like "juan.gmail.com" and header injection.
const ADDRESS = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/** Whether a string looks like a single e-mail address. */
export function esDireccionEmail(value: string): boolean {
  return ADDRESS.test(value);
}

/**
 * Chooses the recipient: the personal address, else the institutional one.
 * @throws PermanentError (code `EMAIL_SIN_DESTINATARIO`) when neither is a usable address.
 */
export function elegirDestinatario(alumno: DireccionesAlumno): Destinatario {
  const personal = alumno.emailPersonal?.trim() ?? '';
  if (esDireccionEmail(personal)) return { email: personal, origen: 'personal' };
  const institucional = alumno.emailInstitucional?.trim() ?? '';
  if (esDireccionEmail(institucional)) return { email: institucional, origen: 'institucional' };
  const invalid = [personal, institucional].filter((v) => v !== '');
  const detail =
    invalid.length > 0
      ? `sus direcciones no son válidas (${invalid.map((v) => `«${v}»`).join(', ')})`
      : 'no tiene e-mail personal ni institucional';
  return fail(detail, invalid);
}

function fail(detail: string, invalid: string[]): never {
  throw new PermanentError(
    `No se puede enviar el correo: el alumno ${detail}. Cargue un e-mail personal válido y vuelva a intentarlo.`,
    { code: 'EMAIL_SIN_DESTINATARIO', detalles: { direcciones_invalidas: invalid } },
  );
}
