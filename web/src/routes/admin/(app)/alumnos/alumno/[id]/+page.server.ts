import { error, fail, redirect } from '@sveltejs/kit';
import { Code, ConnectError } from '@connectrpc/connect';
import { getApp } from '$lib/server/app';
import { alumnoView, cuentaView, UUID } from '$lib/server/alumnos';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { hasRole } from '$lib/server/roles';
import type { Services } from '$lib/server/services';
import { logView, tareaRow } from '$lib/server/views';
import type { Actions, PageServerLoad } from './$types';

/**
 * identity-teams' own deletion guard applied to the accounts deleting the alumno would remove (CheckDeletion):
 * `motivo` is why not, empty when allowed. When identity-teams cannot be asked the answer is no too
 * (`sinComprobar`): an alumno is never deleted while its accounts might stay behind.
 */
async function comprobarEliminacion(
  services: Services,
  alumnoId: string,
): Promise<{ permitida: boolean; motivo: string; upn: string; sinComprobar: boolean }> {
  const res = await services.call('identity-teams', () => services.identity.checkDeletion({ alumnoId }));
  if (!res.ok)
    return {
      permitida: false,
      motivo:
        'No se pudo comprobar con identity-teams si sus cuentas de Teams y Moodle pueden eliminarse, y sin esa ' +
        `comprobación el alumno no se elimina (sus cuentas quedarían atrás). ${res.message}`,
      upn: '',
      sinComprobar: true,
    };
  const { permitida, motivo, upn } = res.value;
  return {
    permitida,
    motivo: permitida ? '' : motivo || 'identity-teams no permite eliminar sus cuentas.',
    upn,
    sinComprobar: false,
  };
}

export const load: PageServerLoad = async (event) => {
  const staff = requireRole(event, 'lector');
  event.depends('app:alumno');
  const id = event.params.id;
  if (!UUID.test(id)) error(404, 'El alumno no existe.');
  const { services } = await getApp();
  const res = await services.call('ingest-sial', () => services.alumnos.getAlumno({ id }));
  if (!res.ok) {
    if (/no encontr|not found|no existe/i.test(res.message)) error(404, 'El alumno no existe.');
    return { problems: [{ service: res.service, message: res.message }], alumno: null };
  }
  if (!res.value.alumno) error(404, 'El alumno no existe.');
  const alumno = alumnoView(res.value.alumno);
  const problems: { service: string; message: string }[] = [];
  const [cuenta, tareas, logs, eliminacion] = await Promise.all([
    // An alumno without an account is no failure: NotFound means "Sin cuenta".
    services.identity
      .getCuenta({ alumnoId: id })
      .then((r) => (r.cuenta ? cuentaView(r.cuenta) : null))
      .catch((err: unknown) => {
        if (ConnectError.from(err).code !== Code.NotFound)
          problems.push({
            service: 'identity-teams',
            message: 'No se pudo leer la cuenta (identity-teams no responde).',
          });
        return null;
      }),
    services.call('task-tracker', () =>
      services.tasks.listTareas({ filter: { alumnoId: id }, page: { pageSize: 50 } }),
    ),
    services.call('task-tracker', () => services.logs.listLogs({ alumnoId: id, page: { pageSize: 50 } })),
    // Only an admin sees the delete button: asked for them alone.
    hasRole(staff.role, 'admin') ? comprobarEliminacion(services, id) : undefined,
  ]);
  for (const r of [tareas, logs]) if (!r.ok) problems.push({ service: r.service, message: r.message });
  return {
    problems,
    alumno,
    cuenta,
    tareas: tareas.ok ? tareas.value.tareas.map(tareaRow) : [],
    logs: logs.ok ? logs.value.logs.map(logView) : [],
    noEliminable: eliminacion?.motivo ?? '',
  };
};

export const actions: Actions = {
  /** Shows the temporary password once: admins only, with a reason; audited here and by identity-teams. */
  revelar: async (event) => {
    const staff = requireRole(event, 'admin');
    const id = event.params.id ?? '';
    if (!UUID.test(id)) error(404, 'El alumno no existe.');
    const form = await event.request.formData();
    const motivo = field(form, 'motivo', 500).trim();
    if (field(form, 'confirmar', 5) !== 'si')
      return fail(400, { op: 'revelar', message: 'Confirme que desea revelar la contraseña.' });
    if (!motivo)
      return fail(400, { op: 'revelar', message: 'Motivo: indique por qué la revela (queda auditado).' });
    const { services, audit } = await getApp();
    const res = await services.call('identity-teams', () =>
      services.identityAdmin.revealPassword({ alumnoId: id, requestedBy: staff.username, motivo }),
    );
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'alumno.revelar_password',
      target: id,
      detalles: res.ok ? { motivo, upn: res.value.upn } : { motivo, rechazada: res.message },
    });
    if (!res.ok) return fail(409, { op: 'revelar', message: res.message });
    return {
      op: 'revelar',
      revelada: {
        upn: res.value.upn,
        password: res.value.password,
        generadaEn: res.value.generadaEn
          ? new Date(Number(res.value.generadaEn.seconds) * 1000).toISOString()
          : null,
      },
    };
  },

  /**
   * Deletes the alumno; the deleted event makes identity-teams remove its Teams and Moodle accounts. Refused up
   * front when identity-teams' deletion guard would refuse to remove them (CheckDeletion), and when identity-teams
   * cannot be asked: an alumno is never deleted while its accounts would stay behind.
   */
  eliminar: async (event) => {
    const staff = requireRole(event, 'admin');
    const id = event.params.id ?? '';
    if (!UUID.test(id)) error(404, 'El alumno no existe.');
    const form = await event.request.formData();
    if (field(form, 'confirmar', 5) !== 'si')
      return fail(400, { op: 'eliminar', message: 'Confirme la eliminación: es irreversible.' });
    const { services, audit } = await getApp();
    const al = await services.call('ingest-sial', () => services.alumnos.getAlumno({ id }));
    if (!al.ok || !al.value.alumno)
      return fail(409, { op: 'eliminar', message: al.ok ? 'El alumno no existe.' : al.message });
    const { permitida, motivo, upn, sinComprobar } = await comprobarEliminacion(services, id);
    if (!permitida) {
      await audit.record({
        actor: staff.username,
        ip: clientIp(event),
        action: 'alumno.eliminar',
        target: id,
        detalles: { rechazada: motivo, upn },
      });
      return fail(sinComprobar ? 503 : 409, {
        op: 'eliminar',
        message: `No se eliminó el alumno. ${motivo}`,
      });
    }
    const res = await services.call('ingest-sial', () =>
      services.alumnos.deleteAlumno({ id, requestedBy: staff.username }),
    );
    if (!res.ok) return fail(409, { op: 'eliminar', message: res.message });
    const a = res.value.alumno;
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'alumno.eliminar',
      target: id,
      detalles: { dni: a?.dni ?? '', nombre: a ? `${a.apellido}, ${a.nombre}` : '', upn },
    });
    redirect(
      303,
      `/admin/alumnos/alumno/?eliminado=${encodeURIComponent(a ? `${a.apellido}, ${a.nombre}` : id)}`,
    );
  },
};
