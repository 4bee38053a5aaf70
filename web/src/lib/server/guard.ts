import { error, type RequestEvent } from '@sveltejs/kit';
import type { Staff } from './auth.js';
import { hasRole, type Role } from './roles.js';

/**
 * The staff member of the request when they have at least `min`; otherwise a 403 (or 401 without a session).
 * Every load and action calls this: hiding a button is never the check.
 */
export function requireRole(event: Pick<RequestEvent, 'locals'>, min: Role): Staff {
  const staff = event.locals.staff;
  if (!staff) error(401, 'Inicie sesión para continuar.');
  if (!hasRole(staff.role, min)) error(403, 'Su rol no permite esta acción.');
  return staff;
}

/** The client address as adapter-node reports it (ADDRESS_HEADER / XFF_DEPTH behind a proxy). */
export function clientIp(event: Pick<RequestEvent, 'getClientAddress'>): string {
  try {
    return event.getClientAddress();
  } catch {
    return '';
  }
}

/** Name of the session cookie (httpOnly, SameSite=Lax, Secure behind TLS). */
export const SESSION_COOKIE = 'lucy_session';

/** A text field of a posted form ('' when absent or a file), cut to `max` characters. */
export function field(form: FormData, name: string, max = 1024): string {
  const v = form.get(name);
  return typeof v === 'string' ? v.slice(0, max) : '';
}
