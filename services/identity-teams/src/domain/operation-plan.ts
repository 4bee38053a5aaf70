/**
 * The recorded state machine of each identity task: the steps a task must do, fixed when it first runs and stored
 * with it, and the steps already done. A redelivered, retried or repeated delivery of the same task runs only
 * `pendingSteps`, so no step is ever done twice; the steps themselves are written to adopt what an interrupted
 * attempt left behind (an account created but not recorded).
 */

/** The identity tasks. */
export type OperacionTipo = 'activar' | 'crear' | 'resetear' | 'eliminar';

/** One step, in the order they run. */
export type Paso =
  'usuario_graph' | 'licencia' | 'moodle' | 'password' | 'email' | 'eliminar_graph' | 'eliminar_moodle';

/** What decides the steps of a task. */
export interface PlanInput {
  tipo: OperacionTipo;
  /** Per-tipo flag `activar_teams` (activation only). */
  activarTeams: boolean;
  /** Per-tipo flag `activar_moodle`, and Moodle configured. */
  activarMoodle: boolean;
  /** Whether the credentials e-mail is sent (flag or command). */
  enviarEmail: boolean;
  /** Moodle configured in this deployment (deletion). */
  moodleConfigurado: boolean;
}

/** The steps of a task, in order. */
export function planSteps(input: PlanInput): Paso[] {
  switch (input.tipo) {
    case 'activar':
      if (!input.activarTeams) return input.activarMoodle ? ['moodle'] : [];
      return [
        'usuario_graph',
        'licencia',
        ...(input.activarMoodle ? (['moodle'] as const) : []),
        ...(input.enviarEmail ? (['email'] as const) : []),
      ];
    case 'crear':
      return [
        'usuario_graph',
        'licencia',
        ...(input.activarMoodle ? (['moodle'] as const) : []),
        ...(input.enviarEmail ? (['email'] as const) : []),
      ];
    case 'resetear':
      return ['password', ...(input.enviarEmail ? (['email'] as const) : [])];
    case 'eliminar':
      return ['eliminar_graph', ...(input.moodleConfigurado ? (['eliminar_moodle'] as const) : [])];
  }
}

/** Steps of `plan` not in `done`, in order. */
export function pendingSteps(plan: readonly string[], done: readonly string[]): Paso[] {
  const finished = new Set(done);
  return plan.filter((p) => !finished.has(p)) as Paso[];
}

/** Staff-facing name of a step (Tarea progress and Logs). */
export const PASO_NOMBRE: Record<Paso, string> = {
  usuario_graph: 'crear el usuario de Microsoft 365',
  licencia: 'asignar la licencia',
  moodle: 'crear el usuario de Moodle',
  password: 'resetear la contraseña',
  email: 'pedir el e-mail de credenciales',
  eliminar_graph: 'eliminar el usuario de Microsoft 365',
  eliminar_moodle: 'eliminar el usuario de Moodle',
};

/** The Graph permission (or directory role) a 403 on a step means is missing. */
export const PERMISO_GRAPH: Partial<Record<Paso, string>> = {
  usuario_graph: 'User.ReadWrite.All',
  licencia: 'LicenseAssignment.ReadWrite.All',
  password: 'rol de directorio User Administrator (User-PasswordProfile.ReadWrite.All)',
  eliminar_graph: 'User.ReadWrite.All',
};

/** The seed's message for a 403 of Graph on a step: "Error 403: falta el permiso … en Azure AD". */
export function forbiddenMessage(paso: Paso, upn: string): string {
  const permiso = PERMISO_GRAPH[paso] ?? 'User.ReadWrite.All';
  return `Error 403: falta el permiso ${permiso} en Azure AD (al ${PASO_NOMBRE[paso]} ${upn}).`;
}

/** Tipo of ingestion (and of Configuración flags) an alumno's estado belongs to. */
export function tipoDeEstado(estado: string): 'preinscriptos' | 'aspirantes' | 'ingresantes' {
  if (estado === 'preinscripto') return 'preinscriptos';
  if (estado === 'aspirante') return 'aspirantes';
  return 'ingresantes';
}
