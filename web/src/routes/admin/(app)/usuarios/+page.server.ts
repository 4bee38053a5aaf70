import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { StaffError } from '$lib/server/auth';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { isRole, ROLE_LABEL, ROLES } from '$lib/server/roles';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  const me = requireRole(event, 'admin');
  const { auth } = await getApp();
  const staff = await auth.listStaff();
  return {
    me: me.id,
    roles: ROLES.map((r) => ({ value: r, label: ROLE_LABEL[r] })),
    usuarios: staff.map((s) => ({ ...s, createdAt: s.createdAt.toISOString() })),
  };
};

type Event = Parameters<Actions[string]>[0];

/** Runs an account change as an admin, recording it; a StaffError becomes a 400 naming the field. */
async function change(
  event: Event,
  action: string,
  fn: (form: FormData) => Promise<{ target: string; detalles?: Record<string, unknown> }>,
) {
  const me = requireRole(event, 'admin');
  const form = await event.request.formData();
  const { audit } = await getApp();
  try {
    const { target, detalles } = await fn(form);
    await audit.record({
      actor: me.username,
      ip: clientIp(event),
      action,
      target,
      ...(detalles ? { detalles } : {}),
    });
    return { ok: true, message: 'Cambio guardado.' };
  } catch (err) {
    if (err instanceof StaffError) return fail(400, { message: err.message, field: err.field ?? '' });
    throw err;
  }
}

export const actions: Actions = {
  crear: (event) =>
    change(event, 'usuario.crear', async (form) => {
      const { auth } = await getApp();
      const role = field(form, 'role');
      if (!isRole(role)) throw new StaffError('El rol no es válido.', 'role');
      const s = await auth.createStaff({
        username: field(form, 'username'),
        nombre: field(form, 'nombre'),
        role,
        password: field(form, 'password'),
      });
      return { target: s.username, detalles: { rol: role } };
    }),
  rol: (event) =>
    change(event, 'usuario.cambiar_rol', async (form) => {
      const { auth } = await getApp();
      const role = field(form, 'role');
      if (!isRole(role)) throw new StaffError('El rol no es válido.', 'role');
      const s = await auth.setRole(field(form, 'id'), role);
      return { target: s.username, detalles: { rol: role } };
    }),
  estado: (event) =>
    change(event, 'usuario.cambiar_estado', async (form) => {
      const { auth } = await getApp();
      const disabled = form.get('disabled') === 'true';
      const s = await auth.setDisabled(field(form, 'id'), disabled);
      return { target: s.username, detalles: { deshabilitado: disabled } };
    }),
  password: (event) =>
    change(event, 'usuario.resetear_password', async (form) => {
      const { auth } = await getApp();
      const s = await auth.resetPassword(field(form, 'id'), field(form, 'password'));
      return { target: s.username };
    }),
};
