/**
 * The notifier's view of the other services: the alumno (ingest-sial's AlumnoService) and the temporary password
 * behind a credential reference (identity-teams' IdentityService.ResolveCredential). Failures are classified
 * once: a missing alumno or credential fails the Tarea (PermanentError, Spanish); an unreachable or overloaded
 * service is retried (TransientError). The password is returned to the caller only and never logged.
 */
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { createRpcClient, PermanentError, TransientError } from '@lucy/platform';
import { AlumnoService, IdentityService } from '@lucy/proto';

/** What the e-mails need of an alumno. */
export interface AlumnoContacto {
  id: string;
  nombre: string;
  apellido: string;
  dni: string;
  emailPersonal: string;
  emailInstitucional: string;
}

/** A resolved credential; `password` is a secret. */
export interface Credencial {
  upn: string;
  password: string;
}

/** The lookups the e-mail worker needs. */
export interface Directory {
  alumno(alumnoId: string): Promise<AlumnoContacto>;
  credencial(request: { credentialRef: string; alumnoId: string; taskId: string }): Promise<Credencial>;
}

/** Options of {@link createDirectory}. */
export interface DirectoryOptions {
  identityUrl: string;
  ingestUrl: string;
  token: string;
  timeoutMs: number;
}

// Codes that will not change by asking again.
const PERMANENT = new Set([
  Code.NotFound,
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.InvalidArgument,
  Code.Unauthenticated,
]);

function classify(err: unknown, what: string, permanentMessage: (e: ConnectError) => string) {
  const e = ConnectError.from(err);
  if (PERMANENT.has(e.code)) {
    // PermissionDenied is the callee's verdict on this request (e.g. a credential bound to another Tarea), not
    // on our token: it takes the caller's message like NotFound.
    if (e.code === Code.Unauthenticated) {
      return new PermanentError(
        `${what} rechazó al notificador (${e.rawMessage}). Revise RPC_TOKEN en la configuración de los servicios.`,
        { cause: err, code: 'RPC_AUTH' },
      );
    }
    return new PermanentError(permanentMessage(e), { cause: err, code: 'RPC_NOT_FOUND' });
  }
  return new TransientError(`No se pudo consultar ${what}: ${e.rawMessage} (${Code[e.code]}).`, {
    cause: err,
    code: 'RPC_UNAVAILABLE',
  });
}

/** Creates the lookups over RPC. */
export function createDirectory(options: DirectoryOptions): Directory {
  const alumnos: Client<typeof AlumnoService> = createRpcClient(AlumnoService, {
    baseUrl: options.ingestUrl,
    token: options.token,
  });
  const identity: Client<typeof IdentityService> = createRpcClient(IdentityService, {
    baseUrl: options.identityUrl,
    token: options.token,
  });
  const call = { timeoutMs: options.timeoutMs };
  return {
    async alumno(alumnoId) {
      try {
        const { alumno } = await alumnos.getAlumno({ id: alumnoId }, call);
        if (!alumno) throw new ConnectError('respuesta sin alumno', Code.NotFound);
        return {
          id: alumno.id,
          nombre: alumno.nombre,
          apellido: alumno.apellido,
          dni: alumno.dni,
          emailPersonal: alumno.emailPersonal,
          emailInstitucional: alumno.emailInstitucional,
        };
      } catch (err) {
        throw classify(
          err,
          'el registro de alumnos (ingest-sial)',
          (e) =>
            `No se puede enviar el correo: el alumno ${alumnoId} no existe en el registro (${e.rawMessage}).`,
        );
      }
    },
    async credencial({ credentialRef, alumnoId, taskId }) {
      try {
        const res = await identity.resolveCredential({ credentialRef, alumnoId, taskId }, call);
        if (!res.password) throw new ConnectError('la credencial no tiene contraseña', Code.NotFound);
        return { upn: res.upn, password: res.password };
      } catch (err) {
        throw classify(
          err,
          'el servicio de cuentas (identity-teams)',
          (e) =>
            `No se puede enviar el correo: la contraseña temporal ya no está disponible (credencial revocada, vencida o desconocida: ${e.rawMessage}). Genere una nueva contraseña para el alumno.`,
        );
      }
    },
  };
}
