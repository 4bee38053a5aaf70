/** Pure rules of identity-teams: account names, temporary passwords, deletion guards, the activation planner. */
export {
  AccountNameError,
  buildDisplayName,
  buildMailNickname,
  buildUpn,
  foldAccents,
  normalizeDni,
  type UpnParts,
} from './account-names.js';
export {
  AMBIGUOUS_CHARACTERS,
  generateTemporaryPassword,
  isAcceptableTemporaryPassword,
  MIN_PASSWORD_LENGTH,
  type TemporaryPasswordOptions,
} from './temporary-password.js';
export {
  checkDeletionAllowed,
  decideMassDeletion,
  DEFAULT_MASS_DELETION_LIMITS,
  DEFAULT_SAFE_DELETE_PREFIX,
  type DeletionVerdict,
  type MassDeletionDecision,
  type MassDeletionInput,
  type MassDeletionLimits,
} from './deletion-guard.js';
export {
  planActivation,
  type ActivationInput,
  type ActivationPlan,
  type ActivationStep,
  type EstadoAlumno,
  type GraphAccountState,
  type MoodleAccountState,
} from './activation-plan.js';
export {
  forbiddenMessage,
  PASO_NOMBRE,
  pendingSteps,
  PERMISO_GRAPH,
  planSteps,
  tipoDeEstado,
  type OperacionTipo,
  type Paso,
  type PlanInput,
} from './operation-plan.js';
