import { requireRole } from '$lib/server/guard';
import type { RequestHandler } from './$types';

/** 204 while the session is valid (the hook answers 401 otherwise): the live feed asks before it reconnects. */
export const GET: RequestHandler = (event) => {
  requireRole(event, 'lector');
  return new Response(null, { status: 204 });
};
