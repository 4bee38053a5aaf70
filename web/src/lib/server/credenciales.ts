// The «Credenciales» of Configuración (issue 13): the secrets each service keeps — identity-teams' Graph client
// secret and Moodle token, ingest-sial's SIAL user and password, the notifier's SMTP user and password. They are
// write-only: a service answers only whether one is set and where it comes from, and staff can replace one, never
// read it back. A posted form becomes one change per service, each saved by that service's own RPC.
import type { FieldProblem } from './rpc-fields.js';
import type { ServiceName } from './config.js';

/** The form's fields, as the page names them. */
export const CAMPOS = {
  graph: 'graph_client_secret',
  moodle: 'moodle_token',
  sialUsuario: 'sial_usuario',
  sialPassword: 'sial_password',
  smtpUsuario: 'smtp_usuario',
  smtpPassword: 'smtp_password',
} as const;

/** Longest value each field accepts (the services' own limits). */
const MAX = {
  [CAMPOS.graph]: 500,
  [CAMPOS.moodle]: 200,
  [CAMPOS.sialUsuario]: 200,
  [CAMPOS.sialPassword]: 500,
  [CAMPOS.smtpUsuario]: 200,
  [CAMPOS.smtpPassword]: 500,
} as const;

/** Spanish names of the secrets, for the page's messages and the audit trail. */
export const NOMBRE: Record<(typeof CAMPOS)[keyof typeof CAMPOS], string> = {
  [CAMPOS.graph]: 'secreto de cliente de Graph',
  [CAMPOS.moodle]: 'token de Moodle',
  [CAMPOS.sialUsuario]: 'usuario de SIAL',
  [CAMPOS.sialPassword]: 'contraseña de SIAL',
  [CAMPOS.smtpUsuario]: 'usuario SMTP',
  [CAMPOS.smtpPassword]: 'contraseña SMTP',
};

/**
 * The state staff see of a secret: «configurado (guardado en Lucy)» when staff set it here, «configurado
 * (despliegue)» when it comes from the deployment's variables, «sin configurar» otherwise.
 */
export function estadoSecreto(configurado: boolean, origen: string): string {
  if (!configurado) return 'sin configurar';
  if (origen === 'personal') return 'configurado (guardado en Lucy)';
  if (origen === 'despliegue') return 'configurado (despliegue)';
  return 'configurado';
}

/** One service's part of a posted form. */
export interface CambiosCredenciales {
  /** identity-teams: the secrets typed (each optional). */
  identity?: { graphClientSecret?: string; moodleToken?: string };
  /** ingest-sial: the HTTP Basic pair, always together. */
  sial?: { usuario: string; password: string };
  /** The notifier: the SMTP AUTH pair, always together. */
  smtp?: { usuario: string; password: string };
}

/** The service each change goes to, and the fields of the page it answers for. */
export const SERVICIO: Record<keyof CambiosCredenciales, ServiceName> = {
  identity: 'identity-teams',
  sial: 'ingest-sial',
  smtp: 'notifier',
};

export interface FormCredenciales {
  cambios: CambiosCredenciales;
  /** Problems found before any service is asked, by the service whose change they stop. */
  problemas: Partial<Record<keyof CambiosCredenciales, FieldProblem[]>>;
  /** The user names as typed (not secrets: kept on the page when something is refused). */
  usuarios: { sial_usuario: string; smtp_usuario: string };
}

/** A posted text field, whole (a secret cut short would be stored wrong without anyone noticing). */
function texto(form: FormData, name: string): string {
  const v = form.get(name);
  return typeof v === 'string' ? v : '';
}

/**
 * Reads the «Credenciales» form. A secret left empty keeps the stored one. A user and its password are replaced
 * together: a password typed needs the user (shown filled with the one in use); a user changed needs the password.
 * `actual` holds the users in use, to tell a changed user from the one shown.
 */
export function leerCredenciales(
  form: FormData,
  actual: { sialUsuario: string; smtpUsuario: string },
): FormCredenciales {
  const problemas: FormCredenciales['problemas'] = {};
  const cambios: CambiosCredenciales = {};
  const problema = (k: keyof CambiosCredenciales, field: string, message: string) =>
    (problemas[k] ??= []).push({ field, message });
  const largo = (k: keyof CambiosCredenciales, field: keyof typeof MAX, v: string): boolean => {
    if (v.length <= MAX[field]) return true;
    problema(k, field, `El ${NOMBRE[field]} admite hasta ${MAX[field]} caracteres.`);
    return false;
  };

  const graph = texto(form, CAMPOS.graph);
  const moodle = texto(form, CAMPOS.moodle);
  const identity: NonNullable<CambiosCredenciales['identity']> = {};
  if (graph !== '' && largo('identity', CAMPOS.graph, graph)) identity.graphClientSecret = graph;
  if (moodle !== '' && largo('identity', CAMPOS.moodle, moodle)) identity.moodleToken = moodle;
  if (!problemas.identity && (identity.graphClientSecret !== undefined || identity.moodleToken !== undefined))
    cambios.identity = identity;

  const par = (
    k: 'sial' | 'smtp',
    campoUsuario: typeof CAMPOS.sialUsuario | typeof CAMPOS.smtpUsuario,
    campoPassword: typeof CAMPOS.sialPassword | typeof CAMPOS.smtpPassword,
    enUso: string,
  ): string => {
    const usuario = texto(form, campoUsuario).trim();
    const password = texto(form, campoPassword);
    if (password === '') {
      if (usuario !== enUso.trim())
        problema(
          k,
          campoPassword,
          `Para cambiar el ${NOMBRE[campoUsuario]} escriba también su contraseña: se reemplazan juntos.`,
        );
      return usuario;
    }
    if (usuario === '')
      problema(k, campoUsuario, `Escriba el ${NOMBRE[campoUsuario]} junto con la contraseña nueva.`);
    const ok = largo(k, campoUsuario, usuario) && largo(k, campoPassword, password);
    if (ok && usuario !== '') cambios[k] = { usuario, password };
    return usuario;
  };
  const sialUsuario = par('sial', CAMPOS.sialUsuario, CAMPOS.sialPassword, actual.sialUsuario);
  const smtpUsuario = par('smtp', CAMPOS.smtpUsuario, CAMPOS.smtpPassword, actual.smtpUsuario);
  return { cambios, problemas, usuarios: { sial_usuario: sialUsuario, smtp_usuario: smtpUsuario } };
}

/**
 * A field a service refused (`graph_client_secret`, `moodleToken`, `sial_password`, `usuario`…), named as the
 * page names it, so its Spanish message shows beside the right input.
 */
export function campoDePagina(k: keyof CambiosCredenciales, field: string): string {
  const f = field.toLowerCase().replace(/[^a-z]/g, '');
  if (k === 'identity') {
    if (f.includes('graph')) return CAMPOS.graph;
    if (f.includes('moodle')) return CAMPOS.moodle;
    return field;
  }
  const [usuario, password] =
    k === 'sial' ? [CAMPOS.sialUsuario, CAMPOS.sialPassword] : [CAMPOS.smtpUsuario, CAMPOS.smtpPassword];
  if (f.includes('password') || f.includes('contrasena')) return password;
  if (f.includes('usuario') || f.includes('user')) return usuario;
  return field;
}

/** What the audit trail keeps of a change: which secrets were replaced, never a value (users are no secret). */
export function auditoria(k: keyof CambiosCredenciales, c: CambiosCredenciales): Record<string, string> {
  if (k === 'identity')
    return {
      ...(c.identity?.graphClientSecret !== undefined ? { [CAMPOS.graph]: 'reemplazado' } : {}),
      ...(c.identity?.moodleToken !== undefined ? { [CAMPOS.moodle]: 'reemplazado' } : {}),
    };
  const par = k === 'sial' ? c.sial : c.smtp;
  const [usuario, password] =
    k === 'sial' ? [CAMPOS.sialUsuario, CAMPOS.sialPassword] : [CAMPOS.smtpUsuario, CAMPOS.smtpPassword];
  return par ? { [usuario]: par.usuario, [password]: 'reemplazado' } : {};
}

/** The Spanish names of what a change replaces, e.g. «usuario y contraseña de SIAL». */
export function queReemplaza(k: keyof CambiosCredenciales, c: CambiosCredenciales): string[] {
  if (k === 'identity')
    return [
      ...(c.identity?.graphClientSecret !== undefined ? [NOMBRE[CAMPOS.graph]] : []),
      ...(c.identity?.moodleToken !== undefined ? [NOMBRE[CAMPOS.moodle]] : []),
    ];
  if (k === 'sial') return c.sial ? ['usuario y contraseña de SIAL'] : [];
  return c.smtp ? ['usuario y contraseña SMTP'] : [];
}

/** Which services a form asked something of (a change or a refused field). */
export function serviciosPedidos(f: FormCredenciales): (keyof CambiosCredenciales)[] {
  return (['identity', 'sial', 'smtp'] as const).filter((k) => f.cambios[k] || f.problemas[k]);
}

/**
 * What «Volver al del despliegue» forgets, per button of the page: the service that keeps it, its name, and the
 * answer — `hecho` when the deployment defines its own value, `sinDespliegue` when it does not (the secret is then
 * simply gone, which the page must say rather than promise a value that does not exist).
 */
export function restablecimiento(
  credencial: string,
): { servicio: ServiceName; nombre: string; hecho: string; sinDespliegue: string } | undefined {
  switch (credencial) {
    case CAMPOS.graph:
      return {
        servicio: 'identity-teams',
        nombre: 'el secreto de cliente de Graph',
        hecho: 'Secreto de cliente de Graph: se vuelve a usar el del despliegue.',
        sinDespliegue:
          'Secreto de cliente de Graph olvidado: el despliegue no define uno (GRAPH_CLIENT_SECRET), así que queda sin configurar y Microsoft Graph rechazará las activaciones.',
      };
    case CAMPOS.moodle:
      return {
        servicio: 'identity-teams',
        nombre: 'el token de Moodle',
        hecho: 'Token de Moodle: se vuelve a usar el del despliegue.',
        sinDespliegue:
          'Token de Moodle olvidado: el despliegue no define uno (MOODLE_TOKEN), así que queda sin configurar y las activaciones no crean cuentas de Moodle.',
      };
    case 'sial':
      return {
        servicio: 'ingest-sial',
        nombre: 'el usuario y la contraseña de SIAL',
        hecho: 'Usuario y contraseña de SIAL: se vuelven a usar los del despliegue.',
        sinDespliegue:
          'Usuario y contraseña de SIAL olvidados: el despliegue no define unos (SIAL_USER, SIAL_PASSWORD), así que SIAL rechazará las ingestas.',
      };
    case 'smtp':
      return {
        servicio: 'notifier',
        nombre: 'el usuario y la contraseña SMTP',
        hecho: 'Usuario y contraseña SMTP: se vuelven a usar los del despliegue.',
        sinDespliegue:
          'Usuario y contraseña SMTP olvidados: el despliegue no define unos (SMTP_USER, SMTP_PASSWORD), así que los correos salen sin autenticarse ante el servidor.',
      };
    default:
      return undefined;
  }
}
