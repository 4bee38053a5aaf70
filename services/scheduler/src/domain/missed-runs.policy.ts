/**
 * What to do, when a scheduler (re)starts, with the slots that came due while no scheduler was running.
 *
 * Rules (docs/architecture.md quotes these):
 * - Pending slots are the task's slots in (last fired slot, now]. With no fired slot yet, they start at the
 *   task's first slot (from its start time, else its creation time).
 * - The most recent pending slot is on time, not missed, when it is at most `graceMs` old (default 60 s): it
 *   fires whatever the policy. The others are missed, and the task's policy decides:
 *   - `skip` (omitir): none of them runs;
 *   - `run_once` (ejecutar una vez, the default): they collapse into one run; if an on-time slot fires anyway
 *     that is the run, otherwise the most recent missed slot fires now;
 *   - `run_all` (ejecutar todas): each runs now, oldest first, but at most `cap` of them (default 10, at most
 *     1000): the most recent ones; the older ones are omitted and logged.
 * - A fired slot keeps its own due time, so its slot key (and so JetStream's dedup) is the same whichever
 *   replica fires it.
 * - One-off and clocked tasks have one slot: if it was missed it fires (run_once, run_all) or is omitted
 *   (skip), and either way the task is then disabled.
 * - Bounded work: interval slots are counted arithmetically; crontab and solar slots are enumerated up to
 *   {@link MAX_COUNTED_MISSED_RUNS} (beyond that the count is reported as "más de N") and only the most recent
 *   ones are materialised, so a minutely schedule missed for a year costs milliseconds.
 */
import {
  DEFAULT_MISSED_RUN_POLICY,
  isSingleShot,
  nextDue,
  taskAnchor,
  taskSlotAtOrAfter,
  toDueSlot,
  type DueSlot,
  type MissedRunMode,
  type MissedRunPolicy,
  type PeriodicTaskTiming,
} from './periodic-task.model.js';
import { scheduleTimeZone, type Schedule, type ScheduleFire } from './schedule.model.js';
import { intervalMs, intervalSlotRange } from './interval.schedule.js';
import { DAY_MS, DEFAULT_TIME_ZONE, HOUR_MS, formatInstantEsAr } from './time-zone.util.js';

/** Missed crontab/solar slots counted one by one before the count becomes a lower bound. */
export const MAX_COUNTED_MISSED_RUNS = 10_000;
/** How old the most recent pending slot may be and still count as on time, in ms. */
export const DEFAULT_MISSED_RUN_GRACE_MS = 60_000;

/** One decision taken about missed slots, with the line to log. */
export interface MissedRunDecision {
  /**
   * `skipped`: missed slots omitted (policy skip). `coalesced`: several missed slots run as one (run_once).
   * `fired_late`: missed slots fired now. `capped`: run_all omitted the oldest slots beyond its cap.
   */
  kind: 'skipped' | 'coalesced' | 'fired_late' | 'capped';
  mode: MissedRunMode;
  /** Slots this decision is about. */
  count: number;
  /** `count` is a lower bound (counting stopped at {@link MAX_COUNTED_MISSED_RUNS}). */
  countIsLowerBound: boolean;
  /** For the log, in Spanish (es-AR). */
  message: string;
}

export interface MissedRunResolution {
  /** Slots to publish now, oldest first (missed ones keep their original due time). */
  fire: DueSlot[];
  /** Missed slots (the on-time slot excluded). */
  missedCount: number;
  missedCountIsLowerBound: boolean;
  decisions: MissedRunDecision[];
  /** The next slot strictly after `now`, to put in the scheduler's heap; null when there is none. */
  next: DueSlot | null;
  /** One-off or clocked task whose only slot was fired or omitted now: disable it. */
  disableTask: boolean;
}

export interface ResolveMissedRunsOptions {
  task: PeriodicTaskTiming;
  /** Due time of the last slot fired (or beat's `last_run_at`); null when the task never ran. */
  lastFiredAt: Date | null;
  now: Date;
  /** Default: the task's own policy, else {@link DEFAULT_MISSED_RUN_POLICY}. */
  policy?: MissedRunPolicy;
  /** Default {@link DEFAULT_MISSED_RUN_GRACE_MS}. */
  graceMs?: number;
  /** Zone for the times in messages; default the crontab's zone, else {@link DEFAULT_TIME_ZONE}. */
  timeZone?: string;
}

interface Pending {
  count: number;
  lowerBound: boolean;
  /** The most recent pending fires, oldest first. */
  recent: ScheduleFire[];
}

const POLICY_ES: Readonly<Record<MissedRunMode, string>> = {
  skip: 'omitir',
  run_once: 'ejecutar una vez',
  run_all: 'ejecutar todas',
};

/** Keeps the last `size` items pushed. */
class Recent {
  private readonly items: ScheduleFire[] = [];
  constructor(private readonly size: number) {}
  push(item: ScheduleFire): void {
    this.items.push(item);
    if (this.items.length > this.size * 2) this.items.splice(0, this.items.length - this.size);
  }
  list(): ScheduleFire[] {
    return this.items.slice(-this.size);
  }
}

function pendingIntervalSlots(task: PeriodicTaskTiming, after: number, now: number, keep: number): Pending {
  const period = intervalMs(task.schedule as Extract<PeriodicTaskTiming['schedule'], { kind: 'interval' }>);
  const anchor = taskAnchor(task);
  const range = intervalSlotRange(anchor, period, after, now);
  let last = range.last;
  if (task.expires !== null) last = Math.min(last, Math.ceil((task.expires.getTime() - anchor) / period) - 1);
  const count = Math.max(0, last - range.first + 1);
  const recent: ScheduleFire[] = [];
  for (let k = Math.max(range.first, last - keep + 1); k <= last; k++) {
    recent.push({ at: anchor + k * period, gapShifted: false });
  }
  return { count, lowerBound: false, recent };
}

function enumerate(task: PeriodicTaskTiming, from: number, now: number, keep: Recent, limit: number): number {
  let count = 0;
  let cursor = from;
  while (count < limit) {
    const fire = taskSlotAtOrAfter(task, cursor);
    if (fire === null || fire.at > now) break;
    keep.push(fire);
    count++;
    cursor = fire.at + 1;
  }
  return count;
}

const RECENT_WINDOWS = [HOUR_MS, 6 * HOUR_MS, DAY_MS, 7 * DAY_MS, 31 * DAY_MS, 366 * DAY_MS, 3660 * DAY_MS];

function pendingSlots(task: PeriodicTaskTiming, after: number, now: number, keep: number): Pending {
  if (!task.enabled) return { count: 0, lowerBound: false, recent: [] };
  if (isSingleShot(task)) {
    const fire = taskSlotAtOrAfter(task, after + 1);
    return fire !== null && fire.at <= now
      ? { count: 1, lowerBound: false, recent: [fire] }
      : { count: 0, lowerBound: false, recent: [] };
  }
  if (task.schedule.kind === 'interval') return pendingIntervalSlots(task, after, now, keep);

  const all = new Recent(keep);
  const count = enumerate(task, after + 1, now, all, MAX_COUNTED_MISSED_RUNS);
  if (count < MAX_COUNTED_MISSED_RUNS) return { count, lowerBound: false, recent: all.list() };
  // Too many to walk: look for the most recent ones in growing windows that end at `now`.
  for (const window of [...RECENT_WINDOWS, Infinity]) {
    const start = Math.max(after + 1, now - window);
    const recent = new Recent(keep);
    const found = enumerate(task, start, now, recent, MAX_COUNTED_MISSED_RUNS * 5);
    if (found >= keep || start === after + 1) return { count, lowerBound: true, recent: recent.list() };
  }
  return { count, lowerBound: true, recent: all.list() };
}

/**
 * A slot's due time as staff read it (dd/mm/aaaa hh:mm in `zone`), with seconds when `withSeconds` (sub-minute
 * schedules, so «01:01:10 hasta 01:01:50» does not read «01:01 hasta 01:01»).
 */
/**
 * Whether a schedule's slots are told with seconds: a sub-minute interval always (its slot on a whole minute too,
 * so «11:08:00» reads like its neighbours «11:07:58»), any schedule when one of `instants` is off a whole minute.
 */
export function needsSeconds(schedule: Schedule, instants: Iterable<number>): boolean {
  if (schedule.kind === 'interval' && intervalMs(schedule) < 60_000) return true;
  for (const at of instants) if (at % 60_000 !== 0) return true;
  return false;
}

export function slotTimeText(zone: string, at: number, withSeconds: boolean): string {
  return withSeconds
    ? `${formatInstantEsAr(zone, at)}:${String(new Date(at).getUTCSeconds()).padStart(2, '0')}`
    : formatInstantEsAr(zone, at);
}

function runs(count: number, lowerBound: boolean): string {
  const amount = lowerBound ? `más de ${count}` : String(count);
  return count === 1 && !lowerBound ? `${amount} ejecución perdida` : `${amount} ejecuciones perdidas`;
}

/**
 * Decides which pending slots of a task to fire now, per its missed-run policy (see the module comment), and
 * returns them with one Spanish log line per decision and the next future slot.
 * @throws ScheduleValidationError when the stored schedule is invalid.
 */
/** Slots inside the grace kept apart from the policy's cap when the pending slots are enumerated. */
const GRACE_SLOT_ROOM = 128;

export function resolveMissedRuns(options: ResolveMissedRunsOptions): MissedRunResolution {
  const { task, now } = options;
  const policy = options.policy ?? task.missedRunPolicy ?? DEFAULT_MISSED_RUN_POLICY;
  const graceMs = options.graceMs ?? DEFAULT_MISSED_RUN_GRACE_MS;
  const zone = options.timeZone ?? scheduleTimeZone(task.schedule, DEFAULT_TIME_ZONE);
  const nowMs = now.getTime();
  const after = options.lastFiredAt?.getTime() ?? -Infinity;
  const cap = Math.max(1, Math.min(policy.cap, 1000));
  const single = isSingleShot(task);

  // Room for the slots inside the grace besides the `cap` the policy may run (a 1 s interval has 61 in 60 s).
  const pending = pendingSlots(task, after, nowMs, cap + 1 + GRACE_SLOT_ROOM);
  // Every slot at most `graceMs` late is on time and fires whatever the policy — not only the most recent — so a
  // leader failover of a few seconds loses no slot of a `skip` or `run_once` schedule.
  const inGrace = pending.recent.filter((fire) => nowMs - fire.at <= graceMs);
  const onTime = inGrace.at(-1);
  const missed = pending.recent.filter((fire) => nowMs - fire.at > graceMs);
  const missedCount = pending.count - inGrace.length;
  const lowerBound = pending.lowerBound;
  const label = `«${task.name}»`;
  // Sub-minute schedules are told with seconds («desde 01:01:10 hasta 01:01:50», not «01:01 hasta 01:01»).
  const withSeconds = needsSeconds(
    task.schedule,
    pending.recent.map((fire) => fire.at),
  );
  const at = (fire: ScheduleFire): string => slotTimeText(zone, fire.at, withSeconds);
  const policyText = `(política: ${POLICY_ES[policy.mode]})`;
  const singleNote = single ? '; la tarea se deshabilita por ser de ejecución única' : '';

  const toFire: ScheduleFire[] = [];
  const decisions: MissedRunDecision[] = [];
  const decide = (
    kind: MissedRunDecision['kind'],
    count: number,
    countIsLowerBound: boolean,
    message: string,
  ): void => {
    decisions.push({ kind, mode: policy.mode, count, countIsLowerBound, message });
  };
  const lastMissed = missed.at(-1);

  if (missedCount > 0 && lastMissed !== undefined) {
    switch (policy.mode) {
      case 'skip':
        decide(
          'skipped',
          missedCount,
          lowerBound,
          missedCount === 1 && !lowerBound
            ? `Se omitió 1 ejecución perdida de ${label}, prevista para ${at(lastMissed)} ${policyText}${singleNote}`
            : `Se omitieron ${runs(missedCount, lowerBound)} de ${label} ${policyText}${singleNote}`,
        );
        break;
      case 'run_once':
        if (onTime !== undefined) {
          decide(
            'coalesced',
            missedCount,
            lowerBound,
            missedCount === 1 && !lowerBound
              ? `La ejecución perdida de ${label} prevista para ${at(lastMissed)} se cubre con la ejecución ` +
                  `de las ${at(onTime)} ${policyText}`
              : `Las ${runs(missedCount, lowerBound)} de ${label} se cubren con la ejecución de las ` +
                  `${at(onTime)} ${policyText}`,
          );
        } else if (missedCount === 1 && !lowerBound) {
          toFire.push(lastMissed);
          decide(
            'fired_late',
            1,
            false,
            `Se ejecuta ahora la ejecución perdida de ${label} prevista para ${at(lastMissed)} ${policyText}`,
          );
        } else {
          toFire.push(lastMissed);
          decide(
            'coalesced',
            missedCount,
            lowerBound,
            `Se ejecuta una sola vez ${label} en lugar de ${runs(missedCount, lowerBound)}; la última estaba ` +
              `prevista para ${at(lastMissed)} ${policyText}`,
          );
        }
        break;
      case 'run_all': {
        const chosen = missed.slice(-cap);
        toFire.push(...chosen);
        const omitted = missedCount - chosen.length;
        if (omitted <= 0 && !lowerBound) {
          decide(
            'fired_late',
            chosen.length,
            false,
            chosen.length === 1
              ? `Se ejecuta ahora la ejecución perdida de ${label} prevista para ${at(lastMissed)} ${policyText}`
              : `Se ejecutan ahora ${runs(chosen.length, false)} de ${label}, desde ${at(chosen[0]!)} ` +
                  `hasta ${at(lastMissed)} ${policyText}`,
          );
        } else {
          decide(
            'fired_late',
            chosen.length,
            false,
            `Se ejecutan ahora las ${chosen.length} ejecuciones perdidas más recientes de ${label}, desde ` +
              `${at(chosen[0]!)} hasta ${at(lastMissed)} (política: ${POLICY_ES[policy.mode]}, tope ${cap})`,
          );
          decide(
            'capped',
            omitted,
            lowerBound,
            `Se omitieron ${runs(omitted, lowerBound)} más antiguas de ${label} por superar el tope de ${cap} ` +
              policyText,
          );
        }
        break;
      }
    }
  }
  toFire.push(...inGrace);

  const disableTask = single && pending.count > 0;
  return {
    fire: toFire.map((fire) => toDueSlot(task, fire)),
    missedCount,
    missedCountIsLowerBound: lowerBound,
    decisions,
    next: disableTask ? null : nextDue(task, now),
    disableTask,
  };
}

/** Why a claimed slot is not republished: the policy's decision, or a change of the task since it was claimed. */
export type ClaimedSlotDecision = 'skipped' | 'coalesced' | 'capped' | 'rescheduled';

/** What becomes of the slots an earlier leader claimed but neither confirmed nor recorded as missed. */
export interface ClaimedSlotSettlement {
  /** Claimed slots to republish now (with their claimed task id and `Nats-Msg-Id`), besides `resolution.fire`. */
  republish: DueSlot[];
  /** Claimed slots to record as missed, with the decision. */
  missed: Array<{ dueAt: Date; decision: ClaimedSlotDecision }>;
}

export interface SettleClaimedSlotsOptions {
  task: PeriodicTaskTiming;
  /** Due times of the task's claimed, unresolved slots. */
  claimed: readonly Date[];
  /** What {@link resolveMissedRuns} decided for the task, with the same `lastFiredAt` and `now`. */
  resolution: MissedRunResolution;
  /** The `lastFiredAt` given to {@link resolveMissedRuns}. */
  lastFiredAt: Date | null;
  now: Date;
  policy?: MissedRunPolicy;
  graceMs?: number;
}

/**
 * Settles the slots a leader claimed and died before confirming (rows of `fired_slot` without `fired_at`), so
 * none is left half-done:
 * - a slot the resolution fires anyway (on time within the grace, or chosen by the policy) is republished with
 *   the task id and `Nats-Msg-Id` of its claim — JetStream drops it if the first publication did arrive;
 * - a future slot is left to the normal firing when it is still the task's next slot, else it is `rescheduled`;
 * - a slot older than the last resolved one (a later slot went out first) is republished when it is within the
 *   grace or the policy is `run_all`, else recorded as `skipped` (skip) or `coalesced` (run_once: a later run
 *   covered it);
 * - any other past slot was decided by the policy: `skipped` (skip), `coalesced` (run_once), `capped` (run_all
 *   beyond its cap); one that is no longer a slot of the task's schedule (edited since) is `rescheduled`.
 */
export function settleClaimedSlots(options: SettleClaimedSlotsOptions): ClaimedSlotSettlement {
  const { task, resolution, now } = options;
  const policy = options.policy ?? task.missedRunPolicy ?? DEFAULT_MISSED_RUN_POLICY;
  const graceMs = options.graceMs ?? DEFAULT_MISSED_RUN_GRACE_MS;
  const nowMs = now.getTime();
  const after = options.lastFiredAt?.getTime() ?? -Infinity;
  const firing = new Set(resolution.fire.map((slot) => slot.dueAt.getTime()));
  const byPolicy: Record<MissedRunMode, ClaimedSlotDecision> = {
    skip: 'skipped',
    run_once: 'coalesced',
    run_all: 'capped',
  };
  const out: ClaimedSlotSettlement = { republish: [], missed: [] };
  for (const dueAt of [...options.claimed].sort((a, b) => a.getTime() - b.getTime())) {
    const at = dueAt.getTime();
    if (firing.has(at)) continue;
    if (at > nowMs) {
      if (resolution.next?.dueAt.getTime() !== at) out.missed.push({ dueAt, decision: 'rescheduled' });
      continue;
    }
    const fire = taskSlotAtOrAfter(task, at);
    if (fire === null || fire.at !== at) {
      out.missed.push({ dueAt, decision: 'rescheduled' });
      continue;
    }
    if (at <= after) {
      if (nowMs - at <= graceMs || policy.mode === 'run_all') out.republish.push(toDueSlot(task, fire));
      else out.missed.push({ dueAt, decision: policy.mode === 'skip' ? 'skipped' : 'coalesced' });
      continue;
    }
    out.missed.push({ dueAt, decision: byPolicy[policy.mode] });
  }
  return out;
}
