import { create, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import {
  GetStatusResponseSchema,
  PreviewRunSchema,
  type PreviewRun as PreviewRunMsg,
  type SchedulerService,
} from '@lucy/proto';
import {
  listAnnouncedTasks,
  NotFoundError,
  PermanentError,
  TASKS,
  taskByName,
  uuidv7,
  ValidationError,
  type Buckets,
  type CommandPublisher,
  type FieldError,
  type LogInput,
} from '@lucy/platform';
import {
  DEFAULT_PREVIEW_RUNS,
  MAX_PREVIEW_RUNS,
  ScheduleValidationError,
  describeSchedule,
  ingestionFrequencyWarning,
  nextDue,
  previewSchedule,
  previewTask,
  validatePeriodicTask,
  validateSchedule,
  type PreviewRun,
  type ScheduleKind,
  type Schedule,
} from '../domain/index.js';
import type { PeriodicTaskRecord, SchedulerRepository } from '../db/index.js';
import type { FiringEngine } from '../engine/firing.engine.js';
import {
  argsOf,
  dateOf,
  policyFromProto,
  scheduleIdOf,
  scheduleInputFromProto,
  scheduleToProto,
  taskToProto,
  validateKwargs,
} from './mapping.js';
import { boundSchedulerRpc } from './input.js';

/** Dependencies of {@link createSchedulerRpc}. */
export interface SchedulerRpcOptions {
  repo: SchedulerRepository;
  engine: FiringEngine;
  publisher: CommandPublisher;
  registry: Buckets['registry'];
  clock: () => Date;
  /** Publishes a Log event (module `scheduler`); absent, nothing is logged. */
  log?: (entry: LogInput) => Promise<void>;
}

const KIND_ES: Record<ScheduleKind, string> = {
  interval: 'el intervalo',
  crontab: 'el crontab',
  solar: 'la programación solar',
  clocked: 'la fecha programada (clocked)',
};

/** Domain validation errors become platform ones, which the RPC edge maps to InvalidArgument. */
async function guard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ScheduleValidationError) throw new ValidationError(err.errors);
    throw err;
  }
}

function invalid(errors: FieldError[]): never {
  throw new ValidationError(errors);
}

/** "2026-03-29 03:00" (seconds only when not zero) from the domain's `YYYY-MM-DDTHH:mm:ss`. */
function localText(wall: string): string {
  const [date, time = ''] = wall.split('T');
  return `${date} ${time.endsWith(':00') ? time.slice(0, 5) : time}`;
}

function runToProto(r: PreviewRun): PreviewRunMsg {
  return create(PreviewRunSchema, {
    at: timestampFromDate(new Date(r.at)),
    localTime: localText(r.localTime),
    utcOffset: r.utcOffset,
    dst: r.dst ?? '',
  });
}

/**
 * SchedulerService: CRUD of periodic tasks and schedules, enable/disable, run now, preview, registered tasks
 * and status. Every write validates first (nothing is saved on a ValidationError) and then tells the engine,
 * so an edit takes effect at once on the leader, whichever replica served it.
 */
export function createSchedulerRpc(
  options: SchedulerRpcOptions,
): Partial<ServiceImpl<typeof SchedulerService>> {
  return boundSchedulerRpc(createUnboundedSchedulerRpc(options));
}

function createUnboundedSchedulerRpc(
  options: SchedulerRpcOptions,
): Omit<ServiceImpl<typeof SchedulerService>, 'importPeriodicTasks'> {
  const { repo, engine, publisher, registry, clock } = options;

  /** Names that are announced in the registry, known to this build and schedulable. */
  const schedulableNames = async (): Promise<Set<string>> => {
    const announced = await listAnnouncedTasks(registry);
    return new Set(
      announced.filter((a) => a.schedulable && taskByName(a.name)?.schedulable).map((a) => a.name),
    );
  };

  /**
   * The spec's best practice for ingestions (at most once every 30 minutes): a task of an ingestion on a schedule
   * that fires more often is saved, but warned about — the text for the answer, and a WARNING Log.
   */
  const warnFrequentIngestion = async (
    task: { id: string; name: string; task: string },
    schedule: Schedule,
    now: Date,
    requestedBy: string,
  ): Promise<string | null> => {
    if (!taskByName(task.task)?.subject.startsWith('lucy.cmd.ingest.')) return null;
    const warning = ingestionFrequencyWarning(task.name, schedule, now);
    if (!warning) return null;
    await options
      .log?.({
        level: 'WARNING',
        module: 'scheduler',
        message: warning,
        detalles: { periodicTaskId: task.id, task: task.task },
        ...(requestedBy ? { usuario: requestedBy } : {}),
      })
      .catch(() => undefined);
    return warning;
  };

  const mustGetTask = async (idOrName: string): Promise<PeriodicTaskRecord> => {
    const task = idOrName.trim() ? await repo.getTask(idOrName.trim()) : null;
    if (!task) throw new NotFoundError(`No existe la tarea periódica «${idOrName}».`);
    return task;
  };

  return {
    async listPeriodicTasks(req) {
      const list = await repo.listTasks({
        enabled: req.enabled,
        task: req.task || undefined,
        search: req.search || undefined,
      });
      const now = clock();
      return { periodicTasks: list.map((t) => taskToProto(t, now)) };
    },

    async getPeriodicTask(req) {
      const task = await mustGetTask(req.id);
      const schedule = scheduleToProto({ ...task.schedule, id: task.scheduleId });
      return {
        periodicTask: taskToProto(task, clock()),
        [task.schedule.kind]: schedule.kind.value,
      };
    },

    savePeriodicTask: (req) =>
      guard(async () => {
        const p = req.periodicTask;
        if (!p) invalid([{ field: 'periodic_task', message: 'Debe enviar la tarea periódica' }]);
        const errors: FieldError[] = [];
        const refs = (
          [
            ['interval', p.intervalId],
            ['crontab', p.crontabId],
            ['solar', p.solarId],
            ['clocked', p.clockedId],
          ] as Array<[ScheduleKind, string]>
        ).filter(([, id]) => id.trim() !== '');
        let schedule = null;
        if (refs.length !== 1) {
          errors.push({
            field: 'schedule',
            message:
              refs.length === 0
                ? 'Debe elegir una programación: interval_id, crontab_id, solar_id o clocked_id'
                : `Indique una sola programación; recibió ${refs.map(([k]) => `${k}_id`).join(', ')}`,
          });
        } else {
          const [kind, id] = refs[0]!;
          schedule = await repo.getSchedule(id.trim());
          if (!schedule || schedule.kind !== kind) {
            errors.push({ field: `${kind}_id`, message: `No existe ${KIND_ES[kind]} «${id}»` });
            schedule = null;
          }
        }
        const registered = await schedulableNames();
        const validated = validatePeriodicTask(
          {
            name: p.name,
            task: p.task,
            ...(schedule ? { [schedule.kind]: schedule } : {}),
            enabled: p.enabled,
            oneOff: p.oneOff,
            startTime: dateOf(p.startTime),
            expires: dateOf(p.expires),
            missedRunPolicy: { mode: policyFromProto(p.missedRunPolicy), cap: p.missedRunCap || 10 },
          },
          { registeredTasks: registered },
        );
        if (!validated.ok) {
          // With no schedule chosen, the domain's own `schedule` error repeats ours.
          errors.push(...validated.errors.filter((e) => !(e.field === 'schedule' && refs.length !== 1)));
        }
        const args = argsOf(p);
        const kwargs = p.kwargs ?? {};
        const spec = taskByName(p.task.trim());
        if (spec && registered.has(spec.name))
          errors.push(...validateKwargs(spec.name, spec.schema, args, kwargs));
        const existing = p.id ? await repo.getTask(p.id) : null;
        if (p.id && !existing) throw new NotFoundError(`No existe la tarea periódica «${p.id}».`);
        const sameName = p.name.trim() ? await repo.getTask(p.name.trim()) : null;
        if (sameName && sameName.id !== existing?.id) {
          errors.push({ field: 'name', message: `Ya existe una tarea periódica llamada «${p.name.trim()}»` });
        }
        if (errors.length > 0 || !validated.ok || !schedule) invalid(errors);
        const v = validated.value;
        const values = {
          name: v.name,
          task: v.task,
          args,
          kwargs,
          enabled: v.enabled,
          oneOff: v.oneOff,
          startTime: v.startTime,
          expires: v.expires,
          description: p.description,
          scheduleKind: schedule.kind,
          scheduleId: schedule.id,
          missedRunPolicy: v.missedRunPolicy.mode,
          missedRunCap: v.missedRunPolicy.cap,
        };
        const now = clock();
        // Enabling does not replay the disabled period's slots, whichever replica leads next.
        if (existing && !existing.enabled && values.enabled) await repo.resolveUntil(existing.id, now);
        const stored = existing
          ? await repo.updateTask(existing.id, values, now)
          : await repo.insertTask(uuidv7(now.getTime()), values, now);
        await engine.changed();
        const warning = await warnFrequentIngestion(
          { id: stored!.id, name: v.name, task: v.task },
          schedule,
          now,
          req.requestedBy,
        );
        return { periodicTask: taskToProto(stored!, now), advertencias: warning ? [warning] : [] };
      }),

    async deletePeriodicTask(req) {
      const task = await mustGetTask(req.id);
      await repo.deleteTask(task.id);
      await engine.changed();
      return {};
    },

    async setEnabled(req) {
      const task = await mustGetTask(req.id);
      const now = clock();
      // Enabling does not replay the disabled period's slots, whichever replica leads next.
      if (req.enabled && !task.enabled) await repo.resolveUntil(task.id, now);
      await repo.setEnabled(task.id, req.enabled, now);
      await engine.changed();
      return { periodicTask: taskToProto((await repo.getTask(task.id))!, clock()) };
    },

    async runNow(req) {
      const task = await mustGetTask(req.id);
      const spec = taskByName(task.task);
      if (!spec) throw new PermanentError(`La tarea «${task.task}» ya no está registrada.`);
      let message;
      try {
        message = fromJson(spec.schema, task.kwargs as JsonValue, { ignoreUnknownFields: false });
      } catch (err) {
        invalid([{ field: 'kwargs', message: `Parámetros inválidos: ${(err as Error).message}` }]);
      }
      const { taskId } = await publisher.publish(spec.subject, spec.schema, message, {
        taskType: task.task,
        requestedBy: req.requestedBy || 'admin',
        trigger: 'admin',
      });
      return { taskId };
    },

    async listSchedules() {
      return { schedules: (await repo.listSchedules()).map(scheduleToProto) };
    },

    saveSchedule: (req) =>
      guard(async () => {
        const input = scheduleInputFromProto(req.schedule);
        const validated = validateSchedule(input);
        if (!validated.ok) invalid(validated.errors);
        const id = scheduleIdOf(req.schedule).trim();
        const stored = await repo.saveSchedule(id || uuidv7(clock().getTime()), validated.value, id === '');
        if (!stored) throw new NotFoundError(`No existe ${KIND_ES[validated.value.kind]} «${id}».`);
        const advertencias: string[] = [];
        if (id) {
          await engine.changed();
          // The ingestions already on this schedule: the same best-practice warning as when one is saved.
          const now = clock();
          // The schedule is stored: a failure to read its tasks costs the warnings, never the answer.
          const tasks = await repo.listTasks().catch(() => []);
          for (const task of tasks) {
            if (task.scheduleId !== stored.id || task.schedule.kind !== stored.kind) continue;
            const warning = await warnFrequentIngestion(task, stored, now, req.requestedBy);
            if (warning) advertencias.push(warning);
          }
        }
        return { schedule: scheduleToProto(stored), advertencias };
      }),

    async deleteSchedule(req) {
      const result = await repo.deleteSchedule(req.id.trim());
      if (result === 'not_found') throw new NotFoundError(`No existe la programación «${req.id}».`);
      if (result === 'in_use') {
        throw new PermanentError(
          'La programación está en uso por tareas periódicas; cámbielas o elimínelas primero.',
        );
      }
      return {};
    },

    preview: (req) =>
      guard(async () => {
        const count = req.count === 0 ? DEFAULT_PREVIEW_RUNS : req.count;
        if (count < 1 || count > MAX_PREVIEW_RUNS) {
          invalid([{ field: 'count', message: `Debe ser un número entre 1 y ${MAX_PREVIEW_RUNS}` }]);
        }
        const after = dateOf(req.after) ?? clock();
        if (req.periodicTaskId.trim()) {
          const task = await mustGetTask(req.periodicTaskId);
          return {
            runs: previewTask(task, after, { count }).map(runToProto),
            descripcion: describeSchedule(task.schedule),
          };
        }
        const validated = validateSchedule(scheduleInputFromProto(req.schedule));
        if (!validated.ok) invalid(validated.errors);
        return {
          runs: previewSchedule(validated.value, after, { count }).map(runToProto),
          descripcion: describeSchedule(validated.value),
        };
      }),

    async listRegisteredTasks(req) {
      const announced = await listAnnouncedTasks(registry);
      const known = new Set(TASKS.map((t) => t.name));
      return {
        tasks: announced.filter((a) => known.has(a.name) && (!req.onlySchedulable || a.schedulable)),
      };
    },

    async getStatus() {
      const status = engine.status();
      const { value, revision } = await engine.lease.read();
      let next = status.next;
      let enabled = status.enabledTasks;
      if (!status.lease.isLeader) {
        // Followers keep no heap: compute the next slot from the database.
        const now = clock();
        const list = await repo.listTasks({ enabled: true });
        enabled = list.length;
        for (const t of list) {
          let due = null;
          try {
            due = nextDue(t, now);
          } catch {
            due = null;
          }
          if (due && (!next || due.dueAt < next.at)) next = { taskId: t.id, taskName: t.name, at: due.dueAt };
        }
      }
      return create(GetStatusResponseSchema, {
        leader: value && value.expiresAt > clock().getTime() ? value.holder : '',
        instance: status.instance,
        leaseRevision: BigInt(revision),
        leaseExpiresAt: value ? timestampFromDate(new Date(value.expiresAt)) : undefined,
        nextTask: next?.taskName ?? '',
        nextDueAt: next ? timestampFromDate(next.at) : undefined,
        enabledTasks: BigInt(enabled),
      });
    },
  };
}
