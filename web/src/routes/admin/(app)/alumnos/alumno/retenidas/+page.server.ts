import { timestampDate } from '@bufbuild/protobuf/wkt';
import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { UUID } from '$lib/server/alumnos';
import { clientIp, field, requireRole } from '$lib/server/guard';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'admin');
  const { services } = await getApp();
  const res = await services.call('identity-teams', () => services.identityAdmin.listHeldDeletions({}));
  return {
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    retenidas: res.ok
      ? res.value.retenidas.map((r) => ({
          id: r.id,
          alumnoId: r.alumnoId,
          upn: r.upn,
          taskId: r.taskId,
          requestedBy: r.requestedBy,
          retenidaEn: r.retenidaEn ? timestampDate(r.retenidaEn).toISOString() : null,
          motivo: r.motivo,
        }))
      : [],
  };
};

/** Confirms (runs) or discards the checked held deletions: admins only, audited. */
async function decide(event: Parameters<Actions[string]>[0], descartar: boolean) {
  const staff = requireRole(event, 'admin');
  const form = await event.request.formData();
  const ids = form.getAll('ids').filter((v): v is string => typeof v === 'string' && UUID.test(v));
  if (!ids.length) return fail(400, { message: 'Marque al menos una eliminación retenida.' });
  if (field(form, 'confirmar', 5) !== 'si')
    return fail(400, { message: 'Confirme la decisión marcando la casilla de confirmación.' });
  const { services, audit } = await getApp();
  const res = await services.call('identity-teams', () =>
    services.identityAdmin.confirmHeldDeletions({ ids, requestedBy: staff.username, descartar }),
  );
  await audit.record({
    actor: staff.username,
    ip: clientIp(event),
    action: descartar ? 'eliminacion.descartar' : 'eliminacion.confirmar',
    target: `${ids.length} eliminaciones retenidas`,
    detalles: res.ok
      ? { retenidas: ids, tareas: res.value.taskIds, descartadas: res.value.descartadas }
      : { retenidas: ids, rechazada: res.message },
  });
  if (!res.ok) return fail(409, { message: res.message });
  return {
    ok: true,
    message: descartar
      ? `${res.value.descartadas} eliminaciones descartadas.`
      : `${res.value.taskIds.length} eliminaciones programadas.`,
    tareas: res.value.taskIds,
  };
}

export const actions: Actions = {
  confirmar: (e) => decide(e, false),
  descartar: (e) => decide(e, true),
};
