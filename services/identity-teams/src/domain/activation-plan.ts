/**
 * What `alumnos.tasks.activar_servicios_alumno` must do for one alumno, decided from the state of its external
 * accounts as read just before: each step is there only when its result is missing, so running the plan again
 * after a crash or a retry does only what is left. An account found under the alumno's UPN or username that
 * belongs to someone else (another DNI in employeeId / idnumber) is a conflict: that system is left alone, and
 * Moodle is skipped when the Graph UPN is in conflict because the Moodle username is that UPN.
 */

/** Estados of an alumno, as ingestion stores them. */
export type EstadoAlumno = 'preinscripto' | 'aspirante' | 'ingresante' | 'alumno';

/** An Entra account as the planner needs it. */
export interface GraphAccountState {
  id: string;
  userPrincipalName: string;
  /** The DNI the account was created for; null on accounts made before employeeId was set (the original). */
  employeeId: string | null;
  /** SKU ids the account holds. */
  skuIds: readonly string[];
}

/** A Moodle account as the planner needs it. */
export interface MoodleAccountState {
  id: number;
  username: string;
  /** The DNI; empty when created without one. */
  idnumber: string;
}

/** Input of {@link planActivation}. */
export interface ActivationInput {
  alumno: { dni: string; estado: EstadoAlumno };
  /** The alumno's UPN (buildUpn); also its Moodle username. */
  upn: string;
  /** The student licence's SKU id. */
  studentSkuId: string;
  graph: {
    /** The account under `upn`, if any. */
    byUpn: GraphAccountState | null;
    /** Accounts whose employeeId is the alumno's DNI. */
    byEmployeeId: readonly GraphAccountState[];
  };
  /** Undefined when Moodle is not configured: no Moodle step. */
  moodle?: {
    /** The user whose username is `upn`, if any. */
    byUsername: MoodleAccountState | null;
    /** Users whose idnumber is the alumno's DNI. */
    byIdnumber: readonly MoodleAccountState[];
  };
}

/** One idempotent step, in the order they must run. */
export type ActivationStep =
  | { kind: 'crear_cuenta_graph'; upn: string }
  /** `userId` null: the account the step before creates. */
  | { kind: 'asignar_licencia'; upn: string; userId: string | null; skuId: string }
  | { kind: 'crear_usuario_moodle'; username: string; idnumber: string };

/** The plan: steps to run (none when everything exists) and the conflicts that stopped some of them. */
export interface ActivationPlan {
  /** Why the alumno gets no accounts at all (Spanish); then `steps` is empty. */
  notApplicable?: string;
  steps: ActivationStep[];
  /** Spanish reasons, one per system left alone. */
  conflicts: string[];
}

const sameDni = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Plans the activation of one alumno. Pure: reads only its input. */
export function planActivation(input: ActivationInput): ActivationPlan {
  const { alumno, upn, studentSkuId } = input;
  if (alumno.estado === 'preinscripto') {
    return {
      notApplicable:
        'Los preinscriptos no reciben cuentas de Teams ni de Moodle; solo el correo de bienvenida.',
      steps: [],
      conflicts: [],
    };
  }
  const steps: ActivationStep[] = [];
  const conflicts: string[] = [];
  const { byUpn, byEmployeeId } = input.graph;
  let graphUsable = true;
  if (byUpn) {
    // A UPN is built from the DNI, so an account without employeeId under it is the alumno's (the original's).
    if (byUpn.employeeId !== null && !sameDni(byUpn.employeeId, alumno.dni)) {
      graphUsable = false;
      conflicts.push(
        `La cuenta ${upn} ya existe en Microsoft 365 y pertenece a otra persona (employeeId ${byUpn.employeeId}).`,
      );
    } else if (!byUpn.skuIds.includes(studentSkuId)) {
      steps.push({ kind: 'asignar_licencia', upn, userId: byUpn.id, skuId: studentSkuId });
    }
  } else {
    const elsewhere = byEmployeeId.filter((a) => a.userPrincipalName.toLowerCase() !== upn.toLowerCase());
    if (elsewhere.length > 0) {
      graphUsable = false;
      conflicts.push(
        `El DNI ${alumno.dni} ya tiene cuenta en Microsoft 365 con otro UPN (${elsewhere.map((a) => a.userPrincipalName).join(', ')}); no se crea una segunda.`,
      );
    } else {
      steps.push({ kind: 'crear_cuenta_graph', upn });
      steps.push({ kind: 'asignar_licencia', upn, userId: null, skuId: studentSkuId });
    }
  }
  const moodle = input.moodle;
  if (moodle && graphUsable) {
    const username = upn.toLowerCase();
    if (moodle.byUsername) {
      const { idnumber } = moodle.byUsername;
      if (idnumber !== '' && !sameDni(idnumber, alumno.dni)) {
        conflicts.push(
          `El usuario ${username} ya existe en Moodle y pertenece a otra persona (idnumber ${idnumber}).`,
        );
      }
    } else if (moodle.byIdnumber.length > 0) {
      conflicts.push(
        `El DNI ${alumno.dni} ya tiene usuario en Moodle con otro nombre (${moodle.byIdnumber.map((u) => u.username).join(', ')}); no se crea un segundo.`,
      );
    } else {
      steps.push({ kind: 'crear_usuario_moodle', username, idnumber: alumno.dni });
    }
  }
  return { steps, conflicts };
}
