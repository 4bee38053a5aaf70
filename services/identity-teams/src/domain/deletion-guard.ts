/**
 * The two guards in front of every account deletion. The per-account guard refuses any UPN that does not start with
 * the configured safe prefix (`test-` by default), as the original's `eliminar_cuenta_externa` did. The mass-deletion
 * guard is a circuit breaker for runs: a source outage once made another sync (microsoft/o365-moodle#1650) read
 * "nobody exists" and delete everyone, so a run that would remove more than a count or a share of the known accounts
 * within a window is stopped before its first deletion, for a person to look at.
 */

/** The prefix used when none is configured. */
export const DEFAULT_SAFE_DELETE_PREFIX = 'test-';

/** Whether one deletion may go ahead; `reason` (Spanish) says why not. */
export type DeletionVerdict = { allowed: true } | { allowed: false; reason: string };

/** Allows deleting `upn` only when it starts with `safePrefix` (case-insensitive); an empty prefix allows nothing. */
export function checkDeletionAllowed(
  upn: string,
  safePrefix: string = DEFAULT_SAFE_DELETE_PREFIX,
): DeletionVerdict {
  const prefix = safePrefix.trim().toLowerCase();
  const target = upn.trim().toLowerCase();
  if (prefix === '') {
    return {
      allowed: false,
      reason: `SEGURIDAD: no se elimina la cuenta ${upn}: no hay un prefijo de cuentas eliminables configurado.`,
    };
  }
  if (!target.includes('@') || !target.startsWith(prefix)) {
    return {
      allowed: false,
      reason: `SEGURIDAD: no se elimina la cuenta «${upn}»: solo se eliminan cuentas cuyo UPN empieza con «${prefix}».`,
    };
  }
  return { allowed: true };
}

/** The first refusal among the accounts one deletion removes (its UPN, its Moodle username), or undefined. */
export function deletionRefusal(
  targets: readonly string[],
  safePrefix: string = DEFAULT_SAFE_DELETE_PREFIX,
): string | undefined {
  for (const target of targets) {
    const verdict = checkDeletionAllowed(target, safePrefix);
    if (!verdict.allowed) return verdict.reason;
  }
  return undefined;
}

/** Limits of the mass-deletion guard. */
export interface MassDeletionLimits {
  /** Most deletions in one window, this run's included. */
  maxDeletions: number;
  /** Most deletions in one window as a percentage (0–100) of the accounts there were at its start. */
  maxPercent: number;
  /** Window length in ms. */
  windowMs: number;
}

/** 20 accounts or 5 % per 24 h: ordinary removals are a handful a day; a whole cohort is not. */
export const DEFAULT_MASS_DELETION_LIMITS: Readonly<MassDeletionLimits> = Object.freeze({
  maxDeletions: 20,
  maxPercent: 5,
  windowMs: 24 * 3_600_000,
});

/** Everything the decision depends on, explicit so it can be tested and recorded with the run. */
export interface MassDeletionInput {
  /** Deletions this run would make. */
  requested: number;
  /** Accounts of this system the service knows of now, before this run deletes any. */
  knownAccounts: number;
  /** When earlier deletions of this system happened (epoch ms); those older than the window are ignored. */
  recentDeletions: readonly number[];
  /** Current time, epoch ms. */
  now: number;
  limits: MassDeletionLimits;
}

/** The guard's decision, with the figures it used. */
export interface MassDeletionDecision {
  allowed: boolean;
  /** Why not (Spanish), when refused. */
  reason?: string;
  /** Deletions already made in the window. */
  inWindow: number;
  /** `inWindow + requested`. */
  total: number;
  /** `total` as a percentage of the accounts at the window's start (`knownAccounts + inWindow`). */
  percent: number;
}

/**
 * Decides whether a run may make `requested` deletions. Refused when the window's total would exceed
 * `maxDeletions` or `maxPercent` of the accounts at the window's start, or when deletions are asked while no
 * account is known (a sign that the data the run read is wrong).
 * @throws RangeError for negative or non-integer counts and invalid limits.
 */
export function decideMassDeletion(input: MassDeletionInput): MassDeletionDecision {
  const { requested, knownAccounts, limits, now } = input;
  for (const [name, value] of [
    ['requested', requested],
    ['knownAccounts', knownAccounts],
    ['maxDeletions', limits.maxDeletions],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
  }
  if (!(limits.maxPercent >= 0 && limits.maxPercent <= 100))
    throw new RangeError('maxPercent must be in [0, 100]');
  if (!(limits.windowMs > 0)) throw new RangeError('windowMs must be positive');
  const inWindow = input.recentDeletions.filter((t) => t > now - limits.windowMs && t <= now).length;
  const total = inWindow + requested;
  const base = knownAccounts + inWindow;
  const percent = base === 0 ? (total === 0 ? 0 : 100) : (total * 100) / base;
  const figures = { inWindow, total, percent };
  if (requested === 0) return { allowed: true, ...figures };
  const hours = Math.round((limits.windowMs / 3_600_000) * 10) / 10;
  const stop = `Se detuvo la eliminación de ${requested} ${requested === 1 ? 'cuenta' : 'cuentas'} para revisión:`;
  if (knownAccounts === 0) {
    return {
      allowed: false,
      reason: `${stop} no se conoce ninguna cuenta existente, lo que indica datos de origen incompletos.`,
      ...figures,
    };
  }
  if (total > limits.maxDeletions) {
    return {
      allowed: false,
      reason: `${stop} sumaría ${total} eliminaciones en ${hours} h y el máximo es ${limits.maxDeletions}.`,
      ...figures,
    };
  }
  if (percent > limits.maxPercent) {
    return {
      allowed: false,
      reason: `${stop} sumaría ${total} eliminaciones en ${hours} h, el ${percent.toFixed(1)} % de ${base} cuentas, y el máximo es ${limits.maxPercent} %.`,
      ...figures,
    };
  }
  return { allowed: true, ...figures };
}
