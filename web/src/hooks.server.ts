import { randomUUID } from 'node:crypto';
import { redirect, type Handle, type HandleServerError } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { SESSION_COOKIE } from '$lib/server/guard';

export const init = async () => {
  await getApp();
};

const PUBLIC = new Set(['/admin/login/', '/healthz', '/readyz']);

export const handle: Handle = async ({ event, resolve }) => {
  const path = event.url.pathname;
  if (path === '/healthz') return new Response('ok');
  const app = await getApp();
  if (path === '/readyz') {
    try {
      await app.orm.em.getConnection().execute('select 1');
      return new Response('ok');
    } catch {
      return new Response('database unavailable', { status: 503 });
    }
  }
  const token = event.cookies.get(SESSION_COOKIE);
  const staff = await app.auth.validate(token);
  if (staff) {
    event.locals.staff = staff;
    event.locals.sessionToken = token;
  } else if (token) {
    event.cookies.delete(SESSION_COOKIE, { path: '/' });
  }
  const isPublic = PUBLIC.has(path) || path.startsWith('/_app/') || path === '/favicon.svg';
  if (!staff && !isPublic) {
    if (event.request.method === 'GET' && !path.startsWith('/admin/api/')) {
      const next = path + event.url.search;
      redirect(303, `/admin/login/?next=${encodeURIComponent(next)}`);
    }
    return new Response('Inicie sesión para continuar.', {
      status: 401,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
  const response = await resolve(event);
  response.headers.set('x-content-type-options', 'nosniff');
  response.headers.set('referrer-policy', 'same-origin');
  response.headers.set('x-frame-options', 'DENY');
  if (staff) response.headers.set('cache-control', 'no-store');
  return response;
};

/** Unexpected errors: logged with an id on the server, shown to staff as a Spanish message with that id only. */
export const handleError: HandleServerError = ({ error, status }) => {
  const id = randomUUID().slice(0, 8);
  if (status !== 404) console.error(`[web] error ${id}:`, error);
  return { message: 'Ocurrió un error inesperado.', id };
};
