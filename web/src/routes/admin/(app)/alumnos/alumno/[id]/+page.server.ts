import { error, fail, redirect } from '@sveltejs/kit';
import { Code, ConnectError } from '@connectrpc/connect';
import { getApp } from '$lib/server/app';
import { alumnoView, cuentaView, motivoNoEliminable, UUID } from '$lib/server/alumnos';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { logView, tareaRow } from '$lib/server/views';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
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
  const [cuenta, tareas, logs] = await Promise.all([
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
  ]);
  for (const r of [tareas, logs]) if (!r.ok) problems.push({ service: r.service, message: r.message });
  const { config } = await getApp();
  return {
    problems,
    alumno,
    cuenta,
    tareas: tareas.ok ? tareas.value.tareas.map(tareaRow) : [],
    logs: logs.ok ? logs.value.logs.map(logView) : [],
    noEliminable: motivoNoEliminable(cuenta?.upn || alumno.emailInstitucional, config.safeDeletePrefix) ?? '',
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
   * front when the account's UPN lacks the safe prefix (identity-teams would refuse to remove it).
   */
  eliminar: async (event) => {
    const staff = requireRole(event, 'admin');
    const id = event.params.id ?? '';
    if (!UUID.test(id)) error(404, 'El alumno no existe.');
    const form = await event.request.formData();
    if (field(form, 'confirmar', 5) !== 'si')
      return fail(400, { op: 'eliminar', message: 'Confirme la eliminación: es irreversible.' });
    const { services, audit, config } = await getApp();
    const al = await services.call('ingest-sial', () => services.alumnos.getAlumno({ id }));
    if (!al.ok || !al.value.alumno)
      return fail(409, { op: 'eliminar', message: al.ok ? 'El alumno no existe.' : al.message });
    const cuenta = await services.identity
      .getCuenta({ alumnoId: id })
      .then((r) => r.cuenta)
      .catch(() => undefined);
    const upn =
      (cuenta && cuenta.estado !== 'eliminada' ? cuenta.upn : '') || al.value.alumno.emailInstitucional;
    const motivo = motivoNoEliminable(upn, config.safeDeletePrefix);
    if (motivo) {
      await audit.record({
        actor: staff.username,
        ip: clientIp(event),
        action: 'alumno.eliminar',
        target: id,
        detalles: { rechazada: motivo, upn },
      });
      return fail(409, { op: 'eliminar', message: `No se eliminó el alumno. ${motivo}` });
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
