import { error, fail, redirect } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { logView, tareaRow, tareaView, timelineView } from '$lib/server/views';
import type { Actions, PageServerLoad } from './$types';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A task id minted in the last ten minutes (task ids are UUIDv7, whose first 48 bits are the creation time in ms):
 * one the tracker may not have projected yet — the link "Ver la Tarea" right after "Ejecutar ahora", on a busy
 * system — so the page waits for it live instead of answering 404.
 */
function mintedRecently(id: string, now = Date.now()): boolean {
  if (id[14] !== '7') return false;
  const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  return ms <= now + 60_000 && now - ms < 10 * 60_000;
}

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  event.depends('app:tarea');
  if (!ID.test(event.params.id)) error(404, 'La tarea no existe.');
  const { services } = await getApp();
  const res = await services.call('task-tracker', () => services.tasks.getTarea({ id: event.params.id }));
  if (!res.ok) {
    if (res.notFound) {
      if (mintedRecently(event.params.id)) return { problems: [], detalle: null, registrando: true };
      error(404, 'La tarea no existe.');
    }
    return { problems: [{ service: res.service, message: res.message }], detalle: null, registrando: false };
  }
  const v = res.value;
  if (!v.tarea) {
    if (mintedRecently(event.params.id)) return { problems: [], detalle: null, registrando: true };
    error(404, 'La tarea no existe.');
  }
  return {
    problems: [],
    registrando: false,
    detalle: {
      tarea: tareaView(v.tarea),
      logs: v.logs.map(logView),
      timeline: v.timeline.map(timelineView),
      earlier: v.earlier.map(tareaRow),
      later: v.later.map(tareaRow),
    },
  };
};

type Op = 'reintentar' | 'cancelar' | 'marcarFallida';

/** Every action needs operador; the staff member's username travels as requested_by and lands in the audit. */
async function act(event: Parameters<Actions[string]>[0], op: Op) {
  const staff = requireRole(event, 'operador');
  const id = event.params.id ?? '';
  if (!ID.test(id)) error(404, 'La tarea no existe.');
  const { services, audit } = await getApp();
  const form = await event.request.formData();
  const res = await services.call('task-tracker', async () => {
    switch (op) {
      case 'reintentar':
        return (await services.tasks.retryTarea({ id, requestedBy: staff.username })).tarea;
      case 'cancelar':
        return (await services.tasks.cancelTarea({ id, requestedBy: staff.username })).tarea;
      case 'marcarFallida':
        return (
          await services.tasks.markFailed({
            id,
            requestedBy: staff.username,
            mensaje: field(form, 'mensaje', 500),
          })
        ).tarea;
    }
  });
  if (!res.ok) return fail(409, { op, message: res.message });
  await audit.record({
    actor: staff.username,
    ip: clientIp(event),
    action: `tarea.${op === 'marcarFallida' ? 'marcar_fallida' : op}`,
    target: id,
    ...(op === 'reintentar' && res.value ? { detalles: { nueva_tarea: res.value.id } } : {}),
  });
  if (op === 'reintentar' && res.value) redirect(303, `/admin/alumnos/tarea/${res.value.id}/?reintento=1`);
  return { op, ok: true };
}

export const actions: Actions = {
  reintentar: (e) => act(e, 'reintentar'),
  cancelar: (e) => act(e, 'cancelar'),
  marcarFallida: (e) => act(e, 'marcarFallida'),
};
