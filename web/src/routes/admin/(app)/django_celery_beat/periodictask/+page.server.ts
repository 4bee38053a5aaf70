import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { periodicTaskView } from '$lib/server/beat';
import { clientIp, field, requireRole } from '$lib/server/guard';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  event.depends('app:periodictask');
  const { services } = await getApp();
  const search = (event.url.searchParams.get('q') ?? '').trim().slice(0, 200);
  const res = await services.call('scheduler', () => services.scheduler.listPeriodicTasks({ search }));
  return {
    guardada: (event.url.searchParams.get('guardada') ?? '').slice(0, 200),
    avisos: event.url.searchParams
      .getAll('aviso')
      .slice(0, 5)
      .map((a) => a.slice(0, 500)),
    q: search,
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    tareas: res.ok ? res.value.periodicTasks.map(periodicTaskView) : [],
  };
};

type Event = Parameters<Actions[string]>[0];

/** Enable / disable, run now and delete: operador and up, each recorded in the audit trail. */
async function act(event: Event, op: 'habilitar' | 'deshabilitar' | 'ejecutar' | 'eliminar') {
  const staff = requireRole(event, 'operador');
  const form = await event.request.formData();
  const id = field(form, 'id', 64);
  const name = field(form, 'name', 200);
  if (!id) return fail(400, { op, message: 'Falta la tarea periódica.' });
  const { services, audit } = await getApp();
  const requestedBy = staff.username;
  const res = await services.call('scheduler', async () => {
    switch (op) {
      case 'habilitar':
      case 'deshabilitar':
        await services.scheduler.setEnabled({ id, enabled: op === 'habilitar', requestedBy });
        return '';
      case 'ejecutar':
        return (await services.scheduler.runNow({ id, requestedBy })).taskId;
      case 'eliminar':
        await services.scheduler.deletePeriodicTask({ id, requestedBy });
        return '';
    }
  });
  if (!res.ok) return fail(409, { op, message: res.message });
  await audit.record({
    actor: staff.username,
    ip: clientIp(event),
    action: `tarea_periodica.${op}`,
    target: name || id,
    detalles: { id, ...(res.value ? { tarea: res.value } : {}) },
  });
  const MESSAGES = {
    habilitar: `«${name}» habilitada.`,
    deshabilitar: `«${name}» deshabilitada.`,
    ejecutar: `«${name}» enviada a ejecutar ahora.`,
    eliminar: `«${name}» eliminada.`,
  };
  return { op, ok: true, message: MESSAGES[op], tareaId: res.value };
}

export const actions: Actions = {
  habilitar: (e) => act(e, 'habilitar'),
  deshabilitar: (e) => act(e, 'deshabilitar'),
  ejecutar: (e) => act(e, 'ejecutar'),
  eliminar: (e) => act(e, 'eliminar'),
};
