import { redirect } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { clientIp, SESSION_COOKIE } from '$lib/server/guard';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = () => redirect(303, '/admin/');

export const actions: Actions = {
  default: async (event) => {
    const { auth, audit } = await getApp();
    await auth.logout(event.locals.sessionToken);
    if (event.locals.staff)
      await audit.record({
        actor: event.locals.staff.username,
        ip: clientIp(event),
        action: 'sesion.cerrar',
        target: event.locals.staff.username,
      });
    event.cookies.delete(SESSION_COOKIE, { path: '/' });
    redirect(303, '/admin/login/');
  },
};
