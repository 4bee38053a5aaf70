/**
 * Classification of Microsoft Graph and Entra ID failures into the platform's TransientError (retry later) and
 * PermanentError (a person must act), with Spanish messages naming the cause, the HTTP status and Graph's error
 * code. Graph answers several different problems with the same `Request_BadRequest`; where its documented
 * `details[].code` is not enough, the message text is the only discriminator (noted at each use).
 */
import { PermanentError, TransientError } from '@lucy/platform';

/** Codes of the errors this adapter raises (`error.code`), for callers and metrics. */
export const GRAPH_ERROR = {
  /** The UPN is taken: the caller may treat it as done after checking employeeId. */
  upnExists: 'GRAPH_UPN_EXISTE',
  noSeats: 'GRAPH_SIN_LICENCIAS',
  skuNotFound: 'GRAPH_SKU_INEXISTENTE',
  invalidDomain: 'GRAPH_DOMINIO_INVALIDO',
  usageLocation: 'GRAPH_UBICACION_DE_USO',
  passwordPolicy: 'GRAPH_CLAVE_DEBIL',
  badRequest: 'GRAPH_SOLICITUD_INVALIDA',
  forbidden: 'GRAPH_SIN_PERMISOS',
  unauthorized: 'GRAPH_TOKEN_RECHAZADO',
  credentials: 'GRAPH_CREDENCIALES',
  notFound: 'GRAPH_NO_ENCONTRADO',
  deletionRefused: 'GRAPH_BORRADO_RECHAZADO',
  throttled: 'GRAPH_LIMITADO',
  unavailable: 'GRAPH_NO_DISPONIBLE',
  connection: 'GRAPH_CONEXION',
} as const;

/** What went wrong with one Graph call, as the SDK's GraphError (or the error the credential threw) showed it. */
export interface GraphFailure {
  /** HTTP status; -1 when no response arrived (network, timeout, token endpoint). */
  status: number;
  /** Graph's `error.code`, or the JavaScript error name when there was no response. */
  code: string;
  message: string;
  requestId: string | undefined;
  /** `error.details[].code` of a Graph error body (e.g. `ObjectConflict`). */
  detailCodes: string[];
  /** The `Retry-After` header, when one came. */
  retryAfter?: string | undefined;
}

/** The context an error message names. */
export interface GraphErrorContext {
  /** What was being done, in Spanish, to follow "al": «crear el usuario test-1@…». */
  action: string;
  /** Attempts made, retries included. */
  attempts: number;
  /** The user concerned, when there is one. */
  upn?: string | undefined;
  /** The SKU concerned (licence assignment). */
  sku?: string | undefined;
}

/** The UPN is already used by another account (Graph `ObjectConflict`). */
export class GraphUserExistsError extends PermanentError {
  readonly upn: string | undefined;
  constructor(message: string, options: { upn: string | undefined; detalles: Record<string, unknown> }) {
    super(message, { code: GRAPH_ERROR.upnExists, detalles: options.detalles });
    this.upn = options.upn;
  }
}

// Entra ID codes (AADSTS…) that mean the app's own configuration is wrong, in words staff can act on.
const AADSTS_REASONS: Record<string, string> = {
  '7000215': 'el secreto de cliente no es válido',
  '7000222': 'el secreto de cliente está vencido',
  '7000216': 'falta el secreto de cliente',
  '700016': 'la aplicación (client id) no existe en el tenant',
  '90002': 'el tenant no existe',
  '900023': 'el identificador del tenant no es válido',
  '700027': 'el certificado de cliente no está registrado en la aplicación o la firma no es válida',
  '700024': 'la aserción del certificado está fuera de su vigencia (revise el reloj del servidor)',
  '700021': 'la aserción del certificado no corresponde al client id',
};

const RETRY_LATER = 'Se reintentará más tarde.';

/** Formats «(HTTP 400, Request_BadRequest)» or «(Request_BadRequest)» when no response arrived. */
const codeOf = (f: GraphFailure): string => (f.status > 0 ? `HTTP ${f.status}, ${f.code}` : f.code);

const attemptsText = (n: number): string => (n > 1 ? ` tras ${n} intentos` : '');

/**
 * The public error for a failed Graph call. Throttling, 5xx, concurrency conflicts, timeouts and network errors
 * are transient; everything else is permanent. Messages never contain request bodies (passwords) nor secrets.
 */
export function classifyGraphFailure(
  f: GraphFailure,
  ctx: GraphErrorContext,
): TransientError | PermanentError {
  const detalles: Record<string, unknown> = {
    graphStatus: f.status,
    graphCode: f.code,
    ...(f.requestId ? { graphRequestId: f.requestId } : {}),
    intentos: ctx.attempts,
    ...(ctx.upn ? { upn: ctx.upn } : {}),
  };
  const permanent = (code: string, message: string): PermanentError =>
    new PermanentError(message, { code, detalles });
  const transient = (code: string, message: string): TransientError =>
    new TransientError(`${message} ${RETRY_LATER}`, { code });
  const where = `al ${ctx.action}`;

  const aadsts = /AADSTS(\d+)/.exec(f.message)?.[1];
  if (f.status <= 0 && aadsts !== undefined) {
    const reason = AADSTS_REASONS[aadsts] ?? 'error de autenticación';
    return permanent(
      GRAPH_ERROR.credentials,
      `Entra ID rechazó las credenciales de la aplicación de Microsoft Graph ${where}: ${reason} (AADSTS${aadsts}). ` +
        'Revise GRAPH_TENANT_ID, GRAPH_CLIENT_ID y el secreto de cliente (el guardado en Configuración, o GRAPH_CLIENT_SECRET) o el certificado de GRAPH_CLIENT_CERTIFICATE_PATH / GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY.',
    );
  }
  if (f.status <= 0) {
    const timedOut = f.code === 'TimeoutError' || f.code === 'AbortError';
    return transient(
      GRAPH_ERROR.connection,
      timedOut
        ? `Microsoft Graph no respondió a tiempo ${where}${attemptsText(ctx.attempts)}.`
        : `Error de conexión con Microsoft Graph ${where}${attemptsText(ctx.attempts)}: ${f.message}.`,
    );
  }
  if (f.status === 429) {
    return transient(
      GRAPH_ERROR.throttled,
      `Microsoft Graph limitó las solicitudes (${codeOf(f)}) ${where}${attemptsText(ctx.attempts)}.`,
    );
  }
  if (f.status >= 500 || (f.status === 409 && f.code === 'Directory_ConcurrencyViolation')) {
    return transient(
      GRAPH_ERROR.unavailable,
      `Microsoft Graph no pudo atender la solicitud (${codeOf(f)}) ${where}${attemptsText(ctx.attempts)}.`,
    );
  }
  if (f.status === 401) {
    return permanent(
      GRAPH_ERROR.unauthorized,
      `Microsoft Graph rechazó el token de acceso (${codeOf(f)}) ${where}. Revise que GRAPH_BASE_URL y ` +
        'GRAPH_AUTHORITY_HOST correspondan al mismo tenant.',
    );
  }
  if (f.status === 403) {
    return permanent(
      GRAPH_ERROR.forbidden,
      `La aplicación no tiene permisos suficientes en Microsoft Graph ${where} (${codeOf(f)}). Otorgue el ` +
        'permiso de aplicación necesario (User.ReadWrite.All, LicenseAssignment.ReadWrite.All) y, para ' +
        'resetear contraseñas, el rol de directorio User Administrator.',
    );
  }
  if (f.status === 404) {
    return permanent(
      GRAPH_ERROR.notFound,
      `No existe en Microsoft 365 ${ctx.upn ? `la cuenta ${ctx.upn}` : 'el objeto pedido'} (${codeOf(f)}) ${where}.`,
    );
  }
  if (f.detailCodes.includes('ObjectConflict')) {
    return new GraphUserExistsError(
      `Ya existe una cuenta con el UPN ${ctx.upn ?? '(sin UPN)'} en Microsoft 365 (${codeOf(f)}, ObjectConflict) ${where}.`,
      { upn: ctx.upn, detalles },
    );
  }
  // Graph gives these no code of their own (all Request_BadRequest): the message is the only discriminator.
  if (/does not have any available licenses/i.test(f.message)) {
    return permanent(
      GRAPH_ERROR.noSeats,
      `No quedan licencias disponibles${ctx.sku ? ` de ${ctx.sku}` : ''} en Microsoft 365 (${codeOf(f)}) ${where}. ` +
        'Libere o compre licencias y vuelva a intentar.',
    );
  }
  if (/domain portion of the userPrincipalName/i.test(f.message)) {
    return permanent(
      GRAPH_ERROR.invalidDomain,
      `El dominio de ${ctx.upn ?? 'la cuenta'} no es un dominio verificado del tenant (${codeOf(f)}) ${where}. ` +
        'Revise el dominio configurado para las cuentas.',
    );
  }
  if (/invalid usage location/i.test(f.message)) {
    return permanent(
      GRAPH_ERROR.usageLocation,
      `La cuenta ${ctx.upn ?? ''} no tiene ubicación de uso (usageLocation) y no puede recibir licencia (${codeOf(f)}) ${where}.`,
    );
  }
  if (/password complexity/i.test(f.message)) {
    return permanent(
      GRAPH_ERROR.passwordPolicy,
      `La contraseña temporal no cumple la política de complejidad de Entra ID (${codeOf(f)}) ${where}.`,
    );
  }
  return permanent(
    GRAPH_ERROR.badRequest,
    `Microsoft Graph rechazó la solicitud (${codeOf(f)}) ${where}: ${f.message}`,
  );
}
