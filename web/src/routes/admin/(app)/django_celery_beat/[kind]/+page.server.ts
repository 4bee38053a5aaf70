import { error, fail } from '@sveltejs/kit';
import { KIND_PATH, SCHEDULE_KINDS, type ScheduleKind } from '$lib/beat';
import { getApp } from '$lib/server/app';
import { scheduleFromForm, scheduleView, type ScheduleView } from '$lib/server/beat';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { callWithFields } from '$lib/server/rpc-fields';
import type { Actions, PageServerLoad } from './$types';

function kindOf(path: string): ScheduleKind {
  const kind = SCHEDULE_KINDS.find((k) => KIND_PATH[k] === path);
  if (!kind) error(404, 'La página no existe.');
  return kind;
}

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const kind = kindOf(event.params.kind);
  const { services } = await getApp();
  const [schedules, tasks] = await Promise.all([
    services.call('scheduler', () => services.scheduler.listSchedules({})),
    services.call('scheduler', () => services.scheduler.listPeriodicTasks({})),
  ]);
  const usedBy = new Map<string, string[]>();
  if (tasks.ok) {
    for (const t of tasks.value.periodicTasks) {
      const id = t.intervalId || t.crontabId || t.solarId || t.clockedId;
      usedBy.set(id, [...(usedBy.get(id) ?? []), t.name]);
    }
  }
  const list = schedules.ok
    ? schedules.value.schedules
        .map(scheduleView)
        .filter((s): s is ScheduleView => s !== null && s.kind === kind)
        .map((s) => ({ ...s, usadaPor: usedBy.get(s.id) ?? [] }))
    : [];
  const editId = (event.url.searchParams.get('editar') ?? '').slice(0, 64);
  return {
    kind,
    problems: [schedules, tasks].flatMap((o) => (o.ok ? [] : [{ service: o.service, message: o.message }])),
    schedules: list,
    editing: list.find((s) => s.id === editId) ?? null,
  };
};

export const actions: Actions = {
  guardar: async (event) => {
    const staff = requireRole(event, 'operador');
    const kind = kindOf(event.params.kind);
    const form = await event.request.formData();
    const values: Record<string, string> = {};
    for (const [k, v] of form.entries()) if (typeof v === 'string') values[k.slice(0, 40)] = v.slice(0, 200);
    const { schedule, problems } = scheduleFromForm(kind, form);
    if (problems.length) return fail(400, { values, fields: problems, message: '' });
    const { services, audit } = await getApp();
    const res = await callWithFields('scheduler', () =>
      services.scheduler.saveSchedule({ schedule, requestedBy: staff.username }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    const saved = res.value.schedule ? scheduleView(res.value.schedule) : null;
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: values.id ? 'programacion.modificar' : 'programacion.crear',
      target: saved?.descripcion ?? kind,
      detalles: { tipo: kind, id: saved?.id ?? '', ...values },
    });
    return {
      ok: true,
      message: `Programación guardada: ${saved?.descripcion ?? ''}`,
      savedId: saved?.id ?? '',
      // The scheduler's best-practice warnings for the ingestions on this schedule (saved anyway).
      advertencias: res.value.advertencias.slice(0, 20).map((a) => a.slice(0, 500)),
    };
  },
  eliminar: async (event) => {
    const staff = requireRole(event, 'operador');
    const kind = kindOf(event.params.kind);
    const form = await event.request.formData();
    const id = field(form, 'id', 64);
    const descripcion = field(form, 'descripcion', 300);
    const { services, audit } = await getApp();
    const res = await services.call('scheduler', () => services.scheduler.deleteSchedule({ id }));
    if (!res.ok) return fail(409, { message: res.message, fields: [], values: {} });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'programacion.eliminar',
      target: descripcion || id,
      detalles: { tipo: kind, id },
    });
    return { ok: true, message: `Programación eliminada: ${descripcion}` };
  },
};
