/**
 * The four kinds of e-mail and the variables each one provides to its templates.
 */
import { TipoEmail } from '@lucy/proto';

/** Every variable name any template may use. */
export type VariableName =
  'nombre' | 'apellido' | 'dni' | 'email' | 'upn' | 'password' | 'moodle_url' | 'cursos';

/** Values for rendering; a variable left undefined is missing (an error when the template uses it). */
export interface EmailVariables {
  nombre?: string | undefined;
  apellido?: string | undefined;
  dni?: string | undefined;
  /** The alumno's contact address (personal, else institutional). */
  email?: string | undefined;
  /** The institutional account (Teams UPN). */
  upn?: string | undefined;
  /** The temporary password; only in the credentials and reset e-mails. */
  password?: string | undefined;
  /** The Moodle (V.ECO) address. */
  moodle_url?: string | undefined;
  /** Short names of the courses the alumno was enrolled in; empty or undefined when not known yet. */
  cursos?: readonly string[] | undefined;
}

/** How a variable may be used. */
export interface VariableSpec {
  readonly name: VariableName;
  /** What it holds, in Spanish, for the template editor. */
  readonly descripcion: string;
  /** Whether it may appear in the subject (subjects show in inbox lists and logs; never passwords). */
  readonly enAsunto: boolean;
  /** Whether the body of this kind must use it (a credentials e-mail without the password is useless). */
  readonly obligatoria: boolean;
}

/** A kind of e-mail the notifier sends. */
export type TipoEmailConocido = Exclude<TipoEmail, TipoEmail.UNSPECIFIED>;

/** The kinds, in the order staff see them. */
export const TIPOS_EMAIL: readonly TipoEmailConocido[] = [
  TipoEmail.BIENVENIDA,
  TipoEmail.CREDENCIALES,
  TipoEmail.PASSWORD_RESET,
  TipoEmail.ENROLAMIENTO,
];

const v = (
  name: VariableName,
  descripcion: string,
  extra: { enAsunto?: boolean; obligatoria?: boolean } = {},
): VariableSpec => ({
  name,
  descripcion,
  enAsunto: extra.enAsunto ?? true,
  obligatoria: extra.obligatoria ?? false,
});

const NOMBRE = v('nombre', 'nombre del alumno');
const APELLIDO = v('apellido', 'apellido del alumno');
const DNI = v('dni', 'número de documento');
const EMAIL = v('email', 'e-mail de contacto del alumno (personal o, si falta, institucional)', {
  enAsunto: false,
});
const UPN = v('upn', 'usuario institucional (cuenta de Teams)', { obligatoria: true });
const PASSWORD = v('password', 'contraseña temporal', { enAsunto: false, obligatoria: true });

interface KindSpec {
  /** Name staff know it by. */
  readonly nombre: string;
  readonly variables: readonly VariableSpec[];
}

// Enrolment does not offer the password: the original's default enrolment e-mail points to the credentials
// e-mail instead, and a password should travel in as few e-mails as possible.
const KINDS: Record<TipoEmailConocido, KindSpec> = {
  [TipoEmail.BIENVENIDA]: { nombre: 'Bienvenida', variables: [NOMBRE, APELLIDO, DNI, EMAIL] },
  [TipoEmail.CREDENCIALES]: {
    nombre: 'Credenciales de acceso',
    variables: [NOMBRE, APELLIDO, DNI, EMAIL, UPN, PASSWORD],
  },
  [TipoEmail.PASSWORD_RESET]: {
    nombre: 'Nueva contraseña',
    variables: [NOMBRE, APELLIDO, DNI, EMAIL, UPN, PASSWORD],
  },
  [TipoEmail.ENROLAMIENTO]: {
    nombre: 'Acceso al Ecosistema Virtual',
    variables: [
      NOMBRE,
      APELLIDO,
      DNI,
      EMAIL,
      v('upn', 'usuario institucional (cuenta de Teams)'),
      v('moodle_url', 'dirección del Ecosistema Virtual (V.ECO)', { enAsunto: false }),
      v('cursos', 'lista de cursos matriculados (o un aviso de que se informarán cuando estén disponibles)', {
        enAsunto: false,
      }),
    ],
  },
};

/** Whether a value is one of the four kinds. */
export function isTipoEmailConocido(tipo: TipoEmail): tipo is TipoEmailConocido {
  return tipo in KINDS;
}

/** The name staff know a kind by, e.g. «Credenciales de acceso». */
export function nombreTipoEmail(tipo: TipoEmailConocido): string {
  return KINDS[tipo].nombre;
}

/** The variables a kind provides, in the order staff see them. */
export function variablesDe(tipo: TipoEmailConocido): readonly VariableSpec[] {
  return KINDS[tipo].variables;
}
