import { create } from '@bufbuild/protobuf';
import { error, fail, redirect } from '@sveltejs/kit';
import { PeriodicTaskSchema } from '@lucy/proto';
import { toLocalInput, type ScheduleKind } from '$lib/beat';
import { getApp } from '$lib/server/app';
import {
  periodicTaskFromForm,
  periodicTaskView,
  previewRuns,
  registeredView,
  scheduleView,
  taskFormValues,
  type PreviewView,
  type ScheduleView,
  type TaskFormValues,
} from '$lib/server/beat';
import { clientIp, requireRole } from '$lib/server/guard';
import { callWithFields } from '$lib/server/rpc-fields';
import type { Actions, PageServerLoad } from './$types';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EMPTY: TaskFormValues = {
  name: '',
  task: '',
  enabled: true,
  interval_id: '',
  crontab_id: '',
  solar_id: '',
  clocked_id: '',
  start_time: '',
  expires: '',
  one_off: false,
  args: '[]',
  kwargs: '{}',
  missed_run_policy: 'run_once',
  missed_run_cap: '10',
  description: '',
};

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const nueva = event.params.id === 'add';
  if (!nueva && !ID.test(event.params.id)) error(404, 'La tarea periódica no existe.');
  const { services } = await getApp();
  const [registered, schedules, current] = await Promise.all([
    services.call('scheduler', () => services.scheduler.listRegisteredTasks({ onlySchedulable: true })),
    services.call('scheduler', () => services.scheduler.listSchedules({})),
    nueva
      ? Promise.resolve(null)
      : services.call('scheduler', () => services.scheduler.getPeriodicTask({ id: event.params.id })),
  ]);
  if (current && !current.ok && /no existe|not found/i.test(current.message))
    error(404, 'La tarea periódica no existe.');
  const problems = [registered, schedules, current].flatMap((o) =>
    o && !o.ok ? [{ service: o.service, message: o.message }] : [],
  );
  const task =
    current?.ok && current.value.periodicTask ? periodicTaskView(current.value.periodicTask) : null;
  const values: TaskFormValues = task
    ? {
        name: task.name,
        task: task.task,
        enabled: task.enabled,
        interval_id: task.kind === 'interval' ? task.scheduleId : '',
        crontab_id: task.kind === 'crontab' ? task.scheduleId : '',
        solar_id: task.kind === 'solar' ? task.scheduleId : '',
        clocked_id: task.kind === 'clocked' ? task.scheduleId : '',
        start_time: toLocalInput(task.startTime),
        expires: toLocalInput(task.expires),
        one_off: task.oneOff,
        args: task.args,
        kwargs: task.kwargs,
        missed_run_policy: task.missedRunPolicy,
        missed_run_cap: String(task.missedRunCap),
        description: task.description,
      }
    : EMPTY;
  const all = schedules.ok
    ? schedules.value.schedules.map(scheduleView).filter((s): s is ScheduleView => s !== null)
    : [];
  let preview: PreviewView | null = null;
  if (task && task.kind) {
    const p = await previewRuns(services, {
      kind: task.kind,
      scheduleId: task.scheduleId,
      task: task.task,
      startTime: values.start_time,
      expires: values.expires,
      oneOff: task.oneOff,
    });
    if (p.ok) preview = p.value;
  }
  return {
    nueva,
    id: nueva ? '' : event.params.id,
    task,
    values,
    preview,
    registered: registered.ok ? registered.value.tasks.map(registeredView) : [],
    schedules: all,
    problems,
  };
};

export const actions: Actions = {
  guardar: async (event) => {
    const staff = requireRole(event, 'operador');
    const nueva = event.params.id === 'add';
    if (!nueva && !ID.test(event.params.id)) error(404, 'La tarea periódica no existe.');
    const form = await event.request.formData();
    const values = taskFormValues(form);
    const { task, problems } = periodicTaskFromForm(nueva ? '' : event.params.id, values);
    if (problems.length > 0) return fail(400, { values, fields: problems, message: '' });
    const { services, audit } = await getApp();
    const res = await callWithFields('scheduler', () =>
      services.scheduler.savePeriodicTask({
        periodicTask: create(PeriodicTaskSchema, task),
        requestedBy: staff.username,
      }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    const saved = res.value.periodicTask;
    const schedule: ScheduleKind | '' = values.interval_id
      ? 'interval'
      : values.crontab_id
        ? 'crontab'
        : values.solar_id
          ? 'solar'
          : 'clocked';
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: nueva ? 'tarea_periodica.crear' : 'tarea_periodica.modificar',
      target: saved?.name ?? values.name,
      detalles: {
        id: saved?.id ?? '',
        task: values.task,
        habilitada: values.enabled,
        programacion: `${schedule}:${values[`${schedule}_id`]}`,
        inicio: values.start_time,
        expira: values.expires,
        una_vez: values.one_off,
        kwargs: values.kwargs,
      },
    });
    // The scheduler's own warnings on save (an ingestion more often than every 30 minutes) go to the list.
    const q = new URLSearchParams({ guardada: saved?.name ?? '' });
    for (const a of res.value.advertencias.slice(0, 5)) q.append('aviso', a.slice(0, 500));
    redirect(303, `/admin/django_celery_beat/periodictask/?${q.toString()}`);
  },
};
