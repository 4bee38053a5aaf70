/**
 * What identity-teams needs from ingest-sial, over its RPC (a service never reads another's tables): the alumno
 * (names, DNI, estado, e-mails) from AlumnoService, and the per-tipo flags `activar_teams`, `activar_moodle`,
 * `enviar_email` of IngestService's Configuración, cached for a few seconds.
 */
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { PermanentError, TransientError } from '@lucy/platform';
import { Estado, TipoIngesta, type Alumno, type AlumnoService, type IngestService } from '@lucy/proto';

/** An alumno as identity-teams uses it. */
export interface AlumnoInfo {
  id: string;
  dni: string;
  nombre: string;
  apellido: string;
  estado: 'preinscripto' | 'aspirante' | 'ingresante' | 'alumno';
  emailPersonal: string;
  emailInstitucional: string;
}

/** The per-tipo flags of the Configuración. */
export interface TipoFlags {
  activarTeams: boolean;
  activarMoodle: boolean;
  enviarEmail: boolean;
}

export type TipoNombre = 'preinscriptos' | 'aspirantes' | 'ingresantes';

/** The alumno registry and configuration, as identity-teams reads them. */
export interface IngestClient {
  /** The alumno, or undefined when it does not exist (deleted). TransientError when ingest-sial is unreachable. */
  getAlumno(id: string): Promise<AlumnoInfo | undefined>;
  /** Several alumnos at once (missing ones are absent from the map). */
  getAlumnos(ids: readonly string[]): Promise<Map<string, AlumnoInfo>>;
  flags(tipo: TipoNombre): Promise<TipoFlags>;
}

const ESTADOS: Partial<Record<Estado, AlumnoInfo['estado']>> = {
  [Estado.PREINSCRIPTO]: 'preinscripto',
  [Estado.ASPIRANTE]: 'aspirante',
  [Estado.INGRESANTE]: 'ingresante',
  [Estado.ALUMNO]: 'alumno',
};

const TIPOS: Record<TipoNombre, TipoIngesta> = {
  preinscriptos: TipoIngesta.PREINSCRIPTOS,
  aspirantes: TipoIngesta.ASPIRANTES,
  ingresantes: TipoIngesta.INGRESANTES,
};

const toInfo = (a: Alumno): AlumnoInfo => ({
  id: a.id,
  dni: a.dni,
  nombre: a.nombre,
  apellido: a.apellido,
  estado: ESTADOS[a.estado] ?? 'aspirante',
  emailPersonal: a.emailPersonal,
  emailInstitucional: a.emailInstitucional,
});

/**
 * Unreachable or failing ingest-sial → TransientError (the task is retried); a refusal → PermanentError. A call cut
 * off (Canceled: the HTTP/2 stream reset, as when ingest-sial is killed or restarts mid-call) is transient too: the
 * fault suite found activations failed for good by an ingest-sial restart.
 */
function translate(err: unknown, what: string): Error {
  if (err instanceof ConnectError) {
    if (
      [
        Code.Unavailable,
        Code.DeadlineExceeded,
        Code.Internal,
        Code.Unknown,
        Code.Aborted,
        Code.Canceled,
      ].includes(err.code)
    ) {
      return new TransientError(`No se pudo consultar ${what} en ingest-sial (${err.rawMessage}).`, {
        cause: err,
      });
    }
    return new PermanentError(`ingest-sial rechazó la consulta de ${what}: ${err.rawMessage}`, {
      code: 'INGEST_RECHAZO',
      cause: err,
    });
  }
  return new TransientError(`No se pudo consultar ${what} en ingest-sial.`, { cause: err });
}

/** Creates the client over the two RPC clients; `cacheMs` bounds how stale the flags may be. */
export function createIngestClient(deps: {
  alumnos: Client<typeof AlumnoService>;
  ingest: Client<typeof IngestService>;
  cacheMs: number;
  now?: () => number;
}): IngestClient {
  const now = deps.now ?? Date.now;
  let cached: { at: number; flags: Map<TipoIngesta, TipoFlags> } | undefined;
  return {
    async getAlumno(id) {
      try {
        const res = await deps.alumnos.getAlumno({ id });
        return res.alumno ? toInfo(res.alumno) : undefined;
      } catch (err) {
        if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
        throw translate(err, `el alumno ${id}`);
      }
    },
    async getAlumnos(ids) {
      const out = new Map<string, AlumnoInfo>();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        try {
          const res = await deps.alumnos.listAlumnos({
            filter: { ids: [...chunk] },
            page: { pageSize: chunk.length },
          });
          for (const a of res.alumnos) out.set(a.id, toInfo(a));
        } catch (err) {
          throw translate(err, 'los alumnos');
        }
      }
      return out;
    },
    async flags(tipo) {
      if (!cached || now() - cached.at > deps.cacheMs) {
        try {
          const res = await deps.ingest.getConfiguracion({});
          const flags = new Map<TipoIngesta, TipoFlags>();
          for (const v of res.configuracion?.ventanas ?? []) {
            flags.set(v.tipo, {
              activarTeams: v.activarTeams,
              activarMoodle: v.activarMoodle,
              enviarEmail: v.enviarEmail,
            });
          }
          cached = { at: now(), flags };
        } catch (err) {
          throw translate(err, 'la configuración');
        }
      }
      return (
        cached.flags.get(TIPOS[tipo]) ?? { activarTeams: false, activarMoodle: false, enviarEmail: false }
      );
    },
  };
}
