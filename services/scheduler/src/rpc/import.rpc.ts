import { create, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import { ListValueSchema } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { listAnnouncedTasks, taskByName, uuidv7, ValidationError, type Buckets } from '@lucy/platform';
import {
  ScheduleSchema,
  type ImportedPeriodicTask,
  type ImportPeriodicTaskResultSchema,
  type ImportPeriodicTasksResponseSchema,
  type SchedulerService,
} from '@lucy/proto';
import type { PeriodicTaskRecord, SchedulerRepository, StoredSchedule } from '../db/scheduler.repository.js';
import { validatePeriodicTask, validateSchedule, type Schedule } from '../domain/index.js';
import type { FiringEngine } from '../engine/firing.engine.js';
import { boundSchedulerRpc } from './input.js';
import { dateOf, scheduleInputFromProto, validateKwargs } from './mapping.js';

/** Periodic tasks per ImportPeriodicTasks call. */
export const IMPORT_PERIODIC_TASKS_MAX = 500;

type ResultInit = MessageInitShape<typeof ImportPeriodicTaskResultSchema>;

/** Dependencies of {@link createImportPeriodicTasksRpc}. */
export interface ImportPeriodicTasksDeps {
  repo: SchedulerRepository;
  engine: FiringEngine;
  registry: Buckets['registry'];
  /** The scheduler's database, for pylucy's last run and run count (columns only firing writes otherwise). */
  knex: Knex;
  clock: () => Date;
}

/** The marker an imported task carries in its description: how a later run recognises it. */
export const importMarker = (originalId: bigint) => `[importada de pylucy, id ${originalId}]`;

/** A schedule's definition without its id, comparable across runs (dates as ISO text). */
const definition = (s: Schedule | StoredSchedule): string => {
  const { id: _id, ...rest } = s as StoredSchedule;
  return JSON.stringify(rest, Object.keys(rest).sort());
};

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const sameDate = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** The nested schedule of an imported task as the proto `Schedule` oneof. */
function scheduleMsg(p: ImportedPeriodicTask) {
  if (p.crontab) return create(ScheduleSchema, { kind: { case: 'crontab', value: p.crontab } });
  if (p.interval) return create(ScheduleSchema, { kind: { case: 'interval', value: p.interval } });
  if (p.solar) return create(ScheduleSchema, { kind: { case: 'solar', value: p.solar } });
  if (p.clocked) return create(ScheduleSchema, { kind: { case: 'clocked', value: p.clocked } });
  return undefined;
}

/**
 * SchedulerService.ImportPeriodicTasks: django-celery-beat periodic tasks of pylucy, with their schedules, last run
 * and run count. Keyed by name: a task already imported (its description carries {@link importMarker}) with the
 * same definition is left unchanged, whatever staff did to its enabled flag since. Imported tasks are stored
 * disabled unless `habilitar`, so pylucy's beat and Lucy Tasks never fire the same work during the cut-over; slots
 * before the import are marked resolved, so enabling one never replays pylucy's past. A task that is not
 * registered and schedulable here, or whose arguments the command refuses, is skipped with the reason; a task of
 * the same name Lucy created itself is never replaced.
 */
export function createImportPeriodicTasksRpc(
  deps: ImportPeriodicTasksDeps,
): Pick<ServiceImpl<typeof SchedulerService>, 'importPeriodicTasks'> {
  const { repo, clock } = deps;
  const impl: Pick<ServiceImpl<typeof SchedulerService>, 'importPeriodicTasks'> = {
    async importPeriodicTasks(req): Promise<MessageInitShape<typeof ImportPeriodicTasksResponseSchema>> {
      if (req.periodicTasks.length > IMPORT_PERIODIC_TASKS_MAX)
        throw new ValidationError([
          {
            field: 'periodic_tasks',
            message: `Admite como máximo ${IMPORT_PERIODIC_TASKS_MAX} tareas periódicas por llamada.`,
          },
        ]);
      const announced = await listAnnouncedTasks(deps.registry);
      const registered = new Set(
        announced.filter((a) => a.schedulable && taskByName(a.name)?.schedulable).map((a) => a.name),
      );
      const schedules = await repo.listSchedules();
      const now = clock();
      const results: ResultInit[] = [];
      let changed = false;
      for (const p of req.periodicTasks) {
        const base = { originalId: p.originalId, name: p.name };
        const skip = (motivo: string) => results.push({ ...base, resultado: 'omitida', motivo });
        const sv = validateSchedule(scheduleInputFromProto(scheduleMsg(p)));
        if (!sv.ok) {
          skip(`Programación no válida: ${sv.errors.map((e) => e.message).join('; ')}.`);
          continue;
        }
        const schedule = sv.value;
        const expires = dateOf(p.expires);
        const validated = validatePeriodicTask(
          {
            name: p.name,
            task: p.task,
            [schedule.kind]: schedule,
            enabled: false,
            oneOff: p.oneOff,
            startTime: dateOf(p.startTime),
            expires,
          },
          { registeredTasks: registered },
        );
        if (!validated.ok) {
          const unregistered = validated.errors.some((e) => e.field === 'task');
          skip(
            unregistered
              ? `La tarea «${p.task}» no está registrada en Lucy Tasks como programable: no hay equivalente.`
              : `No válida: ${validated.errors.map((e) => e.message).join('; ')}.`,
          );
          continue;
        }
        const args: unknown[] = p.args ? toJson(ListValueSchema, p.args) : [];
        const kwargs: Record<string, unknown> = p.kwargs ?? {};
        const spec = taskByName(validated.value.task)!;
        const argErrors = validateKwargs(spec.name, spec.schema, args, kwargs);
        if (argErrors.length) {
          skip(`Argumentos no válidos para ${spec.name}: ${argErrors.map((e) => e.message).join('; ')}.`);
          continue;
        }
        const marker = importMarker(p.originalId);
        const description = p.description.trim() ? `${p.description.trim()}\n${marker}` : marker;
        const existing: PeriodicTaskRecord | null = await repo.getTask(validated.value.name);
        if (existing && !existing.description.includes(marker)) {
          skip(
            `Ya existe en Lucy Tasks una tarea periódica llamada «${existing.name}» que no vino de pylucy.`,
          );
          continue;
        }
        // pylucy's flag only with --habilitar; an expired or already fired one-off is never enabled.
        const fired = p.oneOff && p.totalRunCount > 0n;
        const wantEnabled = req.habilitar && p.enabled && !(expires && expires < now) && !fired;
        const same =
          existing &&
          existing.task === validated.value.task &&
          sameJson(existing.args, args) &&
          sameJson(existing.kwargs, kwargs) &&
          existing.oneOff === p.oneOff &&
          sameDate(existing.startTime, validated.value.startTime) &&
          sameDate(existing.expires, expires) &&
          definition(existing.schedule) === definition(schedule);
        if (same) {
          results.push({
            ...base,
            periodicTaskId: existing.id,
            resultado: 'sin_cambios',
            enabled: existing.enabled,
          });
          continue;
        }
        const enabled = existing ? existing.enabled && wantEnabled : wantEnabled;
        if (req.dryRun) {
          results.push({ ...base, resultado: existing ? 'actualizada' : 'creada', enabled });
          continue;
        }
        // Reuse an identical schedule row (pylucy shares schedules between tasks; a re-run creates none).
        let stored = schedules.find((s) => definition(s) === definition(schedule));
        if (!stored) {
          stored = (await repo.saveSchedule(uuidv7(now.getTime()), schedule, true))!;
          schedules.push(stored);
        }
        const values = {
          name: validated.value.name,
          task: validated.value.task,
          args,
          kwargs,
          enabled,
          oneOff: p.oneOff,
          startTime: validated.value.startTime,
          expires,
          description,
          scheduleKind: stored.kind,
          scheduleId: stored.id,
          missedRunPolicy: validated.value.missedRunPolicy.mode,
          missedRunCap: validated.value.missedRunPolicy.cap,
        };
        const id = existing?.id ?? uuidv7(now.getTime());
        if (existing) await repo.updateTask(id, values, now);
        else await repo.insertTask(id, values, now);
        await deps.knex.raw(
          `update scheduler.periodic_task set last_run_at = ?, total_run_count = greatest(total_run_count, ?) where id = ?`,
          [dateOf(p.lastRunAt), String(p.totalRunCount), id],
        );
        // The slots before now belong to pylucy's history: enabling later never replays them.
        await repo.resolveUntil(id, now);
        changed = true;
        results.push({
          ...base,
          periodicTaskId: id,
          resultado: existing ? 'actualizada' : 'creada',
          enabled,
        });
      }
      if (changed) await deps.engine.changed();
      return { results };
    },
  };
  // Every string and list bounded as the service's other requests (names, kwargs, crontab fields).
  return boundSchedulerRpc(impl) as Pick<ServiceImpl<typeof SchedulerService>, 'importPeriodicTasks'>;
}
