/**
 * Errors of the SIAL client. Messages are Spanish (staff read them in the Tarea) and never carry the password;
 * the underlying error stays in `cause`. `transient` tells the edge whether retrying later may help.
 */

/** Base class of every SIAL client error. */
export abstract class SialError extends Error {
  /** Path of the request, e.g. `/webservice/sial/V2/04/preinscriptos/listas/`. */
  readonly path: string;
  /** Attempts made (1 + retries used). */
  readonly attempts: number;
  /** Whether a later retry may succeed (network, timeout, 5xx). */
  abstract readonly transient: boolean;
  constructor(message: string, options: { path: string; attempts: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.path = options.path;
    this.attempts = options.attempts;
  }
}

// HTTP requests, not task attempts: the Tarea counts its own attempts, each of which may make several requests.
const attemptsSuffix = (attempts: number): string => (attempts > 1 ? ` (${attempts} solicitudes HTTP)` : '');

/** SIAL could not be reached or did not answer in time. Message: "Error de conexión con SIAL: <detalle>". */
export class SialConnectionError extends SialError {
  override readonly name = 'SialConnectionError';
  readonly transient = true;
  /** Whether the last attempt ended by the client's timeout (otherwise a network error). */
  readonly timedOut: boolean;
  constructor(
    detail: string,
    options: { path: string; attempts: number; timedOut: boolean; cause?: unknown },
  ) {
    super(
      `Error de conexión con SIAL: ${detail} en GET ${options.path}${attemptsSuffix(options.attempts)}`,
      options,
    );
    this.timedOut = options.timedOut;
  }
}

/**
 * SIAL rejected the credentials (HTTP 401). Not retried: the credentials must change. The message says where the
 * refused ones come from: the Configuración (stored by staff) or the deployment (SIAL_USER/SIAL_PASSWORD).
 */
export class SialAuthError extends SialError {
  override readonly name = 'SialAuthError';
  readonly transient = false;
  constructor(options: {
    path: string;
    attempts: number;
    user: string;
    origin?: 'personal' | 'despliegue' | undefined;
  }) {
    const fix =
      options.origin === 'despliegue'
        ? 'Son las del despliegue (SIAL_USER/SIAL_PASSWORD): cargue las correctas en la Configuración o corrija el despliegue.'
        : options.origin === 'personal'
          ? 'Son las guardadas en la Configuración: reemplace allí el usuario y la contraseña de SIAL.'
          : 'Revise el usuario y la contraseña de SIAL en la Configuración.';
    super(
      `SIAL rechazó las credenciales del usuario «${options.user}» (HTTP 401) en GET ${options.path}. ${fix}`,
      options,
    );
  }
}

/** SIAL answered with an HTTP error other than 401: 5xx after the retries, or a 4xx (not retried). */
export class SialHttpError extends SialError {
  override readonly name = 'SialHttpError';
  readonly status: number;
  readonly transient: boolean;
  /** SIAL's `detail`, when it sent one. */
  readonly detail: string | undefined;
  constructor(options: { path: string; attempts: number; status: number; detail?: string | undefined }) {
    const detail = options.detail ? `: ${options.detail}` : '';
    super(
      `SIAL respondió HTTP ${options.status} en GET ${options.path}${detail}${attemptsSuffix(options.attempts)}`,
      options,
    );
    this.status = options.status;
    this.detail = options.detail;
    this.transient = options.status >= 500;
  }
}

/**
 * SIAL answered 200 with a body that is not valid JSON or not the expected shape. A body that is not JSON at all
 * (a proxy's HTML error page, a cut-off answer) is transient: retried like a 500. Only a well-formed answer of the
 * wrong shape is permanent.
 */
export class SialResponseError extends SialError {
  override readonly name = 'SialResponseError';
  readonly transient: boolean;
  constructor(
    detail: string,
    options: { path: string; attempts: number; cause?: unknown; transient?: boolean | undefined },
  ) {
    super(
      `Respuesta inválida de SIAL en GET ${options.path}: ${detail}${attemptsSuffix(options.attempts)}`,
      options,
    );
    this.transient = options.transient ?? false;
  }
}
