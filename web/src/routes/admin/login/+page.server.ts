import { fail, redirect } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { clientIp, field, SESSION_COOKIE } from '$lib/server/guard';
import type { Actions, PageServerLoad } from './$types';

/** Only same-site paths under /admin/ are followed after login (no open redirect). */
function safeNext(value: string | null): string {
  return value && /^\/admin\/[^/\\]/.test(value) && !value.startsWith('//') ? value : '/admin/';
}

export const load: PageServerLoad = async ({ locals, url }) => {
  if (locals.staff) redirect(303, safeNext(url.searchParams.get('next')));
  return {};
};

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const username = field(form, 'username', 200);
    const password = field(form, 'password');
    if (!username || !password)
      return fail(400, { username, message: 'Complete el usuario y la contraseña.' });
    const { auth, audit, config } = await getApp();
    const ip = clientIp(event);
    const result = await auth.login({
      username,
      password,
      ip,
      userAgent: event.request.headers.get('user-agent') ?? '',
    });
    if (!result.ok) {
      if (result.reason === 'throttled')
        await audit.record({
          actor: username.toLowerCase(),
          ip,
          action: 'sesion.bloqueada',
          target: username,
        });
      return fail(result.reason === 'throttled' ? 429 : 400, { username, message: result.message });
    }
    event.cookies.set(SESSION_COOKIE, result.token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: event.url.protocol === 'https:',
      maxAge: config.sessionAbsoluteHours * 3600,
    });
    await audit.record({
      actor: result.staff.username,
      ip,
      action: 'sesion.iniciar',
      target: result.staff.username,
    });
    redirect(303, safeNext(event.url.searchParams.get('next')));
  },
};
