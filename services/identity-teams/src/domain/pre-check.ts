/**
 * The pre-check of one alumno for an identity action, as Enqueue applies it and PreCheck shows it before anything
 * is queued: preinscriptos get no accounts, an action that sends e-mail needs a personal e-mail, an active account
 * is omitted unless «forzar», a removed account has no password to reset, and «activar» follows the tipo's flags.
 */
import { tipoDeEstado } from './operation-plan.js';

export type IdentityAction = 'activar' | 'crear' | 'resetear';
export type PreCheckEstado = 'programada' | 'rechazado' | 'omitido';

/** What the pre-check needs of an alumno, of its account and of its tipo's flags. */
export interface PreCheckInput {
  action: IdentityAction;
  alumnoId: string;
  alumno: { estado: string; emailPersonal: string } | undefined;
  cuenta: { estado: string; upn: string } | undefined;
  /** The flags of the alumno's tipo; only «activar» reads them. */
  flags: { activarTeams: boolean; activarMoodle: boolean; enviarEmail: boolean } | undefined;
  /** Send e-mail where the task allows choosing (crear). */
  enviarEmail: boolean;
  forzar: boolean;
}

export interface PreCheckOutcome {
  estado: PreCheckEstado;
  motivo: string;
}

/** The tipo whose flags an alumno's «activar» follows (undefined for the other actions and for preinscriptos). */
export function flagsTipoOf(
  action: IdentityAction,
  estado: string,
): ReturnType<typeof tipoDeEstado> | undefined {
  return action === 'activar' && estado !== 'preinscripto' ? tipoDeEstado(estado) : undefined;
}

export function preCheckAlumno(input: PreCheckInput): PreCheckOutcome {
  const out = (estado: PreCheckEstado, motivo = ''): PreCheckOutcome => ({ estado, motivo });
  const { action, alumno, cuenta } = input;
  if (!alumno) return out('rechazado', `Alumno ${input.alumnoId} no encontrado`);
  if (action !== 'resetear' && alumno.estado === 'preinscripto')
    return out('rechazado', 'Los preinscriptos no reciben cuentas de Teams ni de Moodle.');
  let sendsEmail: boolean;
  if (action === 'activar') {
    const f = input.flags ?? { activarTeams: true, activarMoodle: true, enviarEmail: true };
    if (!f.activarTeams && !f.activarMoodle)
      return out(
        'omitido',
        `La configuración de ${tipoDeEstado(alumno.estado)} no activa Teams ni Moodle (activar_teams, activar_moodle).`,
      );
    sendsEmail = f.enviarEmail;
  } else sendsEmail = action === 'crear' ? input.enviarEmail : true;
  if (sendsEmail && !alumno.emailPersonal.trim())
    return out('rechazado', 'Sin e-mail: el alumno no tiene e-mail personal.');
  if (action !== 'resetear' && cuenta?.estado === 'activa' && !input.forzar)
    return out('omitido', `Ya activado (${cuenta.upn}); use «forzar» para repetir.`);
  if (action === 'resetear' && cuenta?.estado === 'eliminada')
    return out('rechazado', `La cuenta ${cuenta.upn} fue eliminada: no hay contraseña que resetear.`);
  return out('programada');
}
