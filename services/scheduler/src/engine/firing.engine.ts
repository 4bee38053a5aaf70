import { fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import {
  CONTENT_TYPE,
  errorMessage,
  H,
  publishLog,
  taskByName,
  uuidv7,
  type Buckets,
  type CommandPublisher,
  type LogLevelName,
  type Logger,
  type NatsHandles,
  type Names,
  type PreparedCommand,
} from '@lucy/platform';
import {
  DEFAULT_MISSED_RUN_GRACE_MS,
  DEFAULT_MISSED_RUN_POLICY,
  isSingleShot,
  nextDue,
  resolveMissedRuns,
  scheduleTimeZone,
  settleClaimedSlots,
  needsSeconds,
  slotTimeText,
  type DueSlot,
  type MissedRunDecision,
  type MissedRunResolution,
} from '../domain/index.js';
import {
  slotRef,
  type MissedSlotDecision,
  type PeriodicTaskRecord,
  type SchedulerRepository,
  type UnresolvedSlot,
} from '../db/index.js';
import { createLeaderLease, type LeaderLease, type LeaseState } from './leader-lease.js';
import { schedulerMetrics } from './metrics.js';
import { SlotHeap } from './slot-heap.js';

/** Canonical subject of the "periodic tasks changed" notification (NATS core, not stored). */
export const CHANGED_SUBJECT = 'lucy.scheduler.changed';

/** Options of {@link createFiringEngine}. */
export interface FiringEngineOptions {
  repo: SchedulerRepository;
  publisher: CommandPublisher;
  nats: NatsHandles;
  names: Names;
  leases: Buckets['leases'];
  /** This replica's identity (INSTANCE_ID). */
  instance: string;
  logger: Logger;
  clock: () => Date;
  /** Leader lease duration, ms. */
  leaseTtlMs: number;
  /** Longest sleep of the firing loop, ms. */
  tickMaxMs: number;
  /** Full reload from the database, ms; default 30 000 (catches edits made while a notification was lost). */
  reloadIntervalMs?: number;
  /** Retry delay of a slot whose publication failed, ms; default 1000. */
  retryMs?: number;
}

/** What GetStatus shows. */
export interface EngineStatus {
  instance: string;
  lease: LeaseState;
  /** Leader only: the next slot in the heap. */
  next: { taskId: string; taskName: string; at: Date } | null;
  enabledTasks: number;
}

/** The firing loop of one replica: leader election, a heap of next slots, and the publication of due slots. */
export interface FiringEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Re-reads periodic tasks now (after an edit) and tells the other replicas to do the same. */
  changed(): Promise<void>;
  status(): EngineStatus;
  readonly lease: LeaderLease;
}

/** Slots claimed and confirmed together: one claim and one confirmation statement per chunk of this many. */
const CHUNK = 256;
/** Claim statements in flight at once. */
const CHUNKS_IN_FLIGHT = 4;
/**
 * How long before a slot's due time the engine wakes to claim it (database work), so that at the due time only
 * the publication is left: a burst of thousands of crontab slots due at the same minute is claimed ahead.
 */
const PRECLAIM_MS = 1000;

/** One slot of one task to fire. */
interface Job {
  task: PeriodicTaskRecord;
  slot: DueSlot;
}

interface Current {
  task: PeriodicTaskRecord;
  slot: DueSlot | null;
  /** Bumped on each reschedule; heap entries of older generations are stale. */
  gen: number;
}

/** Why a claimed slot is not republished, as the Log says it. */
const CLAIM_REASON: Record<MissedSlotDecision, (task: PeriodicTaskRecord) => string> = {
  skipped: () => 'la política de ejecuciones perdidas es omitir',
  coalesced: () => 'la política es ejecutar una vez y otra ejecución la cubre',
  capped: (task) =>
    `supera el tope de ${task.missedRunPolicy?.cap ?? DEFAULT_MISSED_RUN_POLICY.cap} de la política ejecutar todas`,
  rescheduled: () => 'el horario de la tarea cambió y ya no la incluye',
  disabled: () => 'la tarea está deshabilitada',
};

const DECISION_LEVEL: Record<MissedRunDecision['kind'], LogLevelName> = {
  skipped: 'WARNING',
  capped: 'WARNING',
  coalesced: 'INFO',
  fired_late: 'INFO',
};

/**
 * Creates the {@link FiringEngine}. Only the lease holder fires. On becoming leader it resolves missed runs per
 * task (each decision published as a Log event, module `scheduler`), then sleeps until the next due slot
 * (bounded by `tickMaxMs`). Each slot is claimed in `fired_slot` before it is published with
 * `Nats-Msg-Id` = slot key, so neither two replicas nor a restart fire it twice.
 */
export function createFiringEngine(options: FiringEngineOptions): FiringEngine {
  const { repo, publisher, nats, names, instance, logger, clock } = options;
  const retryMs = options.retryMs ?? 1000;
  const tasks = new Map<string, Current>();
  const heap = new SlotHeap<{ taskId: string; gen: number }>();
  let timer: NodeJS.Timeout | undefined;
  let reloadTimer: NodeJS.Timeout | undefined;
  let stopped = true;
  let gen = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let enabledCount = 0;
  const changedSubject = names.full(CHANGED_SUBJECT);
  let subscription: ReturnType<NatsHandles['nc']['subscribe']> | undefined;

  /** Runs jobs one at a time: firing and reloading never interleave. */
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const run = queue.then(job, job);
    queue = run.catch(() => undefined);
    return run;
  };

  const lease = createLeaderLease({
    kv: options.leases,
    holder: instance,
    ttlMs: options.leaseTtlMs,
    clock,
    logger,
    onAcquired: () => {
      schedulerMetrics.leader.set(1);
      void serial(() => resync(true)).catch((err: unknown) =>
        logger.error({ err: errorMessage(err) }, 'scheduler resync failed'),
      );
    },
    onLost: () => {
      schedulerMetrics.leader.set(0);
      clearTimeout(timer);
      heap.clear();
      tasks.clear();
    },
  });

  const schedule = (task: PeriodicTaskRecord, slot: DueSlot | null, at?: number) => {
    const current: Current = { task, slot, gen: ++gen };
    tasks.set(task.id, current);
    if (slot) heap.push(at ?? slot.dueAt.getTime(), { taskId: task.id, gen: current.gen });
  };

  const log = async (level: LogLevelName, message: string, detalles: Record<string, unknown>) => {
    await publishLog(
      nats.js,
      names,
      { level, module: 'scheduler', message, detalles },
      undefined,
      clock,
    ).catch((err: unknown) =>
      logger.warn({ err: errorMessage(err), message }, 'scheduler log not published'),
    );
  };

  /**
   * Fires slots (typically all those due within the next {@link PRECLAIM_MS}): claims them now, {@link CHUNK}
   * per statement, publishes each group of slots due at the same instant at that instant, and confirms the
   * published ones. Per job: true when done (fired, already fired, or dropped with an error log), false when it
   * must be retried later (lease lost, NATS or database failure).
   */
  async function fireAll(jobs: readonly Job[]): Promise<boolean[]> {
    const done = jobs.map(() => false);
    if (!lease.valid()) return done;
    const ready: Array<{ index: number; job: Job; subject: string; data: Uint8Array }> = [];
    for (const [index, job] of jobs.entries()) {
      const { task, slot } = job;
      const spec = taskByName(task.task);
      if (!spec) {
        await log('ERROR', `La tarea periódica «${task.name}» usa una tarea no registrada «${task.task}»`, {
          periodicTaskId: task.id,
        });
        schedulerMetrics.slots.inc({ outcome: 'dropped' });
        done[index] = true;
        continue;
      }
      try {
        const message = fromJson(spec.schema, task.kwargs as JsonValue, { ignoreUnknownFields: false });
        ready.push({ index, job, subject: spec.subject, data: toBinary(spec.schema, message) });
      } catch (err) {
        await log('ERROR', `Parámetros inválidos en «${task.name}»: ${errorMessage(err)}; no se ejecutó`, {
          periodicTaskId: task.id,
          slot: slot.key,
        });
        schedulerMetrics.slots.inc({ outcome: 'dropped' });
        done[index] = true;
      }
    }
    const chunks: Array<typeof ready> = [];
    for (let from = 0; from < ready.length; from += CHUNK) chunks.push(ready.slice(from, from + CHUNK));
    // Phase 1, ahead of the due time (see PRECLAIM_MS): claim every chunk, CHUNKS_IN_FLIGHT at a time, so the
    // database is off the critical path of a burst. A claim the leader does not get to publish (it dies or loses
    // the lease) stays unconfirmed and the next leader takes it over with the same task id and message id.
    const claimedChunks: Array<{ chunk: typeof ready; claimed: Map<string, string> }> = [];
    let nextChunk = 0;
    const claimer = async (): Promise<void> => {
      while (nextChunk < chunks.length) {
        const chunk = chunks[nextChunk++]!;
        if (!lease.valid()) return;
        try {
          const claimed = await repo.claimSlots(
            chunk.map(({ job }) => ({
              periodicTaskId: job.task.id,
              dueAt: job.slot.dueAt,
              taskId: uuidv7(clock().getTime()),
            })),
            lease.state().revision,
          );
          claimedChunks.push({ chunk, claimed });
        } catch (err) {
          logger.warn({ err: errorMessage(err), slots: chunk.length }, 'slots not claimed; will retry');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CHUNKS_IN_FLIGHT, chunks.length) }, claimer));
    // Phase 2: the claimed slots, made ready now (headers, subject, payload), are published at their due time,
    // never before — every slot due at the same instant in one synchronous pass over the connection, its
    // acknowledgements collected together (publishPrepared) — and then confirmed, CHUNK per statement.
    type Ready = { index: number; job: Job; command: PreparedCommand };
    const groups = new Map<number, Ready[]>();
    for (const { chunk, claimed } of claimedChunks) {
      for (const { index, job, subject, data } of chunk) {
        const taskId = claimed.get(slotRef(job.task.id, job.slot.dueAt));
        if (taskId === undefined) {
          done[index] = true; // Another replica (an earlier leader) fired it.
          schedulerMetrics.slots.inc({ outcome: 'already_fired' });
          continue;
        }
        const command = publisher.prepare(subject, data, CONTENT_TYPE.protobuf, {
          taskType: job.task.task,
          requestedBy: 'scheduler',
          trigger: 'schedule',
          taskId,
          msgId: job.slot.key,
        });
        // Which periodic task fired it: the Tarea shows it (names are checked free of control characters).
        command.headers.set(H.periodicTask, job.task.name);
        const at = job.slot.dueAt.getTime();
        const group = groups.get(at);
        if (group) group.push({ index, job, command });
        else groups.set(at, [{ index, job, command }]);
      }
    }
    const confirm = async (published: readonly Ready[]): Promise<void> => {
      const firedAt = clock();
      try {
        await repo.confirmSlots(
          published.map(({ job }) => ({
            periodicTaskId: job.task.id,
            dueAt: job.slot.dueAt,
            disable: job.slot.disableAfterFire,
          })),
          firedAt,
        );
      } catch (err) {
        // Published but not confirmed: the retry republishes with the same task id and Nats-Msg-Id.
        logger.warn({ err: errorMessage(err), slots: published.length }, 'slots not confirmed; will retry');
        return;
      }
      for (const { index, job } of published) {
        job.task.totalRunCount += 1;
        job.task.lastRunAt = firedAt;
        if (job.slot.disableAfterFire) job.task.enabled = false;
        done[index] = true;
      }
      schedulerMetrics.slots.inc({ outcome: 'fired' }, published.length);
    };
    const fireGroup = async (at: number, group: readonly Ready[]): Promise<void> => {
      const wait = at - clock().getTime();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!lease.valid()) return;
      const results = await publisher
        .publishPrepared(group.map((r) => r.command))
        .catch((err: unknown) => group.map(() => (err instanceof Error ? err : new Error(String(err)))));
      const published: Ready[] = [];
      const failed: string[] = [];
      const ackedAt = clock().getTime();
      for (const [i, result] of results.entries()) {
        if (result instanceof Error) failed.push(`${group[i]!.job.slot.key}: ${result.message}`);
        else {
          published.push(group[i]!);
          schedulerMetrics.fireLag.observe(Math.max(0, ackedAt - at) / 1000);
        }
      }
      if (failed.length > 0)
        logger.warn({ slots: failed.length, first: failed[0] }, 'slots not fired; will retry');
      const confirmations: Array<Promise<void>> = [];
      for (let from = 0; from < published.length; from += CHUNK)
        confirmations.push(confirm(published.slice(from, from + CHUNK)));
      await Promise.all(confirmations);
      logger.debug({ slots: published.length }, 'slots fired');
    };
    await Promise.all([...groups].map(([at, group]) => fireGroup(at, group)));
    return done;
  }

  /** Re-reads enabled tasks; with `resolve`, applies the missed-run policy (on becoming leader). */
  async function resync(resolve: boolean): Promise<void> {
    const list = await repo.listTasks({ enabled: true });
    enabledCount = list.length;
    schedulerMetrics.enabledTasks.set(enabledCount);
    if (!lease.valid()) return;
    const now = clock();
    const seen = new Set<string>();
    const lastFired = resolve ? await repo.lastFiredAt(list.map((t) => t.id)) : new Map<string, Date>();
    // Slots claimed by an earlier leader (or by this one before a failure) and neither confirmed nor recorded as
    // missed: each is republished or recorded as missed below, so none is left half-done.
    const claimed = new Map<string, Date[]>();
    if (resolve) {
      for (const slot of await repo.unresolvedSlots()) {
        const list = claimed.get(slot.periodicTaskId);
        if (list) list.push(slot.dueAt);
        else claimed.set(slot.periodicTaskId, [slot.dueAt]);
      }
      heap.clear();
      tasks.clear();
    }
    const resolved: Array<{ task: PeriodicTaskRecord; resolution: MissedRunResolution }> = [];
    for (const task of list) {
      seen.add(task.id);
      try {
        if (resolve) {
          const lastFiredAt = lastFired.get(task.id) ?? task.lastRunAt;
          const resolution = resolveMissedRuns({ task, lastFiredAt, now });
          const mine = claimed.get(task.id);
          claimed.delete(task.id);
          if (mine) {
            const settled = settleClaimedSlots({ task, claimed: mine, resolution, lastFiredAt, now });
            if (settled.republish.length > 0) {
              resolution.fire = [...settled.republish, ...resolution.fire].sort(
                (a, b) => a.dueAt.getTime() - b.dueAt.getTime(),
              );
            }
            await recordMissed(
              task,
              settled.missed.map(({ dueAt, decision }) => ({ periodicTaskId: task.id, dueAt, decision })),
              now,
            ).catch((err: unknown) =>
              // Left unresolved: the next takeover settles them again.
              logger.warn(
                { err: errorMessage(err), periodicTaskId: task.id },
                'claimed slots not recorded as missed',
              ),
            );
          }
          for (const d of resolution.decisions) {
            schedulerMetrics.missedRuns.inc({ decision: d.kind });
            await log(DECISION_LEVEL[d.kind], d.message, {
              periodicTaskId: task.id,
              decision: d.kind,
              policy: d.mode,
              count: d.count,
            });
          }
          resolved.push({ task, resolution });
          continue;
        }
        const known = tasks.get(task.id);
        if (known && known.task.dateChanged.getTime() === task.dateChanged.getTime()) continue;
        // A slot already due (a claimed slot waiting for its retry) stays in the heap: edited, the task still
        // owes it, and dropping it would leave its claim half-done.
        if (known?.slot && known.slot.dueAt.getTime() <= now.getTime()) {
          schedule(task, known.slot, now.getTime() + retryMs);
          continue;
        }
        // A one-off or clocked task saved a moment after its time (a slow save) is still on time within the grace.
        const from = isSingleShot(task) ? new Date(now.getTime() - DEFAULT_MISSED_RUN_GRACE_MS) : now;
        schedule(task, nextDue(task, from));
      } catch (err) {
        await log('ERROR', `No se pudo programar «${task.name}»: ${errorMessage(err)}`, {
          periodicTaskId: task.id,
        });
      }
    }
    if (resolve) {
      // Claims of tasks no longer enabled (disabled since): recorded as missed, never fired.
      for (const [periodicTaskId, dues] of claimed) {
        try {
          const task = await repo.getTask(periodicTaskId);
          if (!task) continue; // Deleted: its rows went with it.
          const slots = dues.map((dueAt) => ({ periodicTaskId, dueAt, decision: 'disabled' as const }));
          await recordMissed(task, slots, now);
        } catch (err) {
          logger.warn({ err: errorMessage(err), periodicTaskId }, 'claimed slots not recorded as missed');
        }
      }
    }
    // Slots to fire now, in rounds: each task's older slots (run_all) are published before its newer ones.
    for (let round = 0; ; round++) {
      const jobs = resolved.flatMap(({ task, resolution }) => {
        const slot = resolution.fire[round];
        return slot ? [{ task, slot }] : [];
      });
      if (jobs.length === 0) break;
      if (!(await fireAll(jobs)).every(Boolean)) return lease.valid() ? scheduleRetryResync() : undefined;
    }
    for (const { task, resolution } of resolved) {
      try {
        if (resolution.disableTask && task.enabled) {
          await repo.setEnabled(task.id, false, clock());
          task.enabled = false;
        }
        if (task.enabled) schedule(task, resolution.next);
      } catch (err) {
        await log('ERROR', `No se pudo programar «${task.name}»: ${errorMessage(err)}`, {
          periodicTaskId: task.id,
        });
      }
    }
    for (const id of [...tasks.keys()]) if (!seen.has(id)) tasks.delete(id);
    arm();
  }

  async function markMissed(
    slots: readonly UnresolvedSlot[],
    decision: MissedSlotDecision,
    now: Date,
  ): Promise<number> {
    const n = await repo.markMissed(slots, decision, now);
    if (n > 0) schedulerMetrics.slots.inc({ outcome: 'missed' }, n);
    return n;
  }

  /**
   * Records a task's claimed slots that are not republished as missed, one statement and one WARNING Log per
   * decision. The dead leader may have published a slot before it died without confirming it, so the Log says
   * the publication was not confirmed rather than that the run never happened.
   */
  async function recordMissed(
    task: PeriodicTaskRecord,
    slots: ReadonlyArray<UnresolvedSlot & { decision: MissedSlotDecision }>,
    now: Date,
  ): Promise<void> {
    const zone = scheduleTimeZone(task.schedule);
    const withSeconds = needsSeconds(
      task.schedule,
      slots.map((s) => s.dueAt.getTime()),
    );
    const text = (d: Date) => slotTimeText(zone, d.getTime(), withSeconds);
    for (const decision of new Set(slots.map((s) => s.decision))) {
      const group = slots.filter((s) => s.decision === decision);
      const n = await markMissed(group, decision, now);
      if (n === 0) continue;
      const first = group[0]!.dueAt;
      const last = group.at(-1)!.dueAt;
      const message =
        group.length === 1
          ? `No se republica la ejecución de «${task.name}» prevista para ${text(first)}, reservada por un ` +
            `líder que se detuvo sin confirmar su publicación: ${CLAIM_REASON[decision](task)}`
          : `No se republican ${group.length} ejecuciones de «${task.name}» previstas entre ${text(first)} y ` +
            `${text(last)}, reservadas por un líder que se detuvo sin confirmar su publicación: ` +
            CLAIM_REASON[decision](task);
      await log('WARNING', message, {
        periodicTaskId: task.id,
        decision,
        count: group.length,
        slots: group.map((s) => s.dueAt.toISOString()),
      });
    }
  }

  function scheduleRetryResync(): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      void serial(() => resync(true)).catch((err: unknown) =>
        logger.error({ err: errorMessage(err) }, 'scheduler resync failed'),
      );
    }, retryMs);
  }

  /** Pops stale heap entries; returns the live top. */
  function top(): { at: number; current: Current } | undefined {
    for (;;) {
      const entry = heap.peek();
      if (!entry) return undefined;
      const current = tasks.get(entry.value.taskId);
      if (current && current.gen === entry.value.gen && current.slot) return { at: entry.at, current };
      heap.pop();
    }
  }

  function arm(): void {
    clearTimeout(timer);
    if (stopped || !lease.valid()) return;
    const next = top();
    const delay = next
      ? Math.min(Math.max(0, next.at - PRECLAIM_MS - clock().getTime()), options.tickMaxMs)
      : options.tickMaxMs;
    timer = setTimeout(() => {
      void serial(tick).catch((err: unknown) =>
        logger.error({ err: errorMessage(err) }, 'scheduler tick failed'),
      );
    }, delay);
  }

  async function tick(): Promise<void> {
    if (stopped || !lease.valid()) return;
    // One batch per tick: everything due within PRECLAIM_MS is claimed now and published at its due time. The
    // next tick is a new serialised job, so reloads and edits are never starved by a stream of short intervals.
    const horizon = clock().getTime() + PRECLAIM_MS;
    const due: Array<{ task: PeriodicTaskRecord; slot: DueSlot }> = [];
    for (let next = top(); next && next.at <= horizon; next = top()) {
      heap.pop();
      const { task, slot } = next.current;
      // Invalidate the entry so top() does not return it again before it is rescheduled.
      next.current.gen = -1;
      if (slot) due.push({ task, slot });
    }
    if (due.length > 0) {
      // Whatever goes wrong, every popped slot goes back into the heap (done, or retried later): none is lost
      // until the next reload.
      const done = await fireAll(due).catch((err: unknown) => {
        logger.error({ err: errorMessage(err), slots: due.length }, 'slots not fired; will retry');
        return due.map(() => false);
      });
      for (const [i, { task, slot }] of due.entries()) {
        if (done[i]) {
          schedule(task, task.enabled ? nextDue(task, slot.dueAt) : null);
          if (!task.enabled) tasks.delete(task.id);
        } else {
          schedulerMetrics.slots.inc({ outcome: 'retried' });
          schedule(task, slot, clock().getTime() + retryMs);
        }
      }
    }
    arm();
  }

  let lastVersion = '';
  let lastFullReload = 0;
  const reloadNow = () =>
    serial(async () => {
      lastVersion = await repo.changeVersion();
      lastFullReload = clock().getTime();
      await resync(false);
    }).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'scheduler reload failed'));
  // The periodic safety net (a change notification may be lost) reads a one-row fingerprint and reloads the
  // tasks only when it moved, or every 10 minutes regardless: a full reload of 10,000 tasks every 30 s was most
  // of the scheduler's idle CPU.
  const reloadIfChanged = () =>
    serial(async () => {
      const version = await repo.changeVersion();
      if (version === lastVersion && clock().getTime() - lastFullReload < 10 * 60_000) return;
      lastVersion = version;
      lastFullReload = clock().getTime();
      await resync(false);
    }).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'scheduler reload failed'));

  return {
    lease,
    async start() {
      stopped = false;
      subscription = nats.nc.subscribe(changedSubject, {
        callback: (_err, msg) => {
          if (msg.string() !== instance) void reloadNow();
        },
      });
      reloadTimer = setInterval(() => void reloadIfChanged(), options.reloadIntervalMs ?? 30_000);
      reloadTimer.unref();
      const list = await repo.listTasks({ enabled: true });
      enabledCount = list.length;
      schedulerMetrics.enabledTasks.set(enabledCount);
      lease.start();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      clearInterval(reloadTimer);
      subscription?.unsubscribe();
      await queue;
      await lease.stop();
      schedulerMetrics.leader.set(0);
    },
    async changed() {
      nats.nc.publish(changedSubject, instance);
      await reloadNow();
    },
    status() {
      const next = lease.valid() ? top() : undefined;
      return {
        instance,
        lease: lease.state(),
        next: next
          ? { taskId: next.current.task.id, taskName: next.current.task.name, at: new Date(next.at) }
          : null,
        enabledTasks: enabledCount,
      };
    },
  };
}
