// The next runs of a periodic task while its form is edited (fetched by the form as fields change).
import { error, json } from '@sveltejs/kit';
import { SCHEDULE_KINDS, type ScheduleKind } from '$lib/beat';
import { getApp } from '$lib/server/app';
import { previewRuns } from '$lib/server/beat';
import { requireRole } from '$lib/server/guard';
import type { RequestHandler } from './$types';

const text = (v: unknown, max = 200) => (typeof v === 'string' ? v.slice(0, max) : '');

export const POST: RequestHandler = async (event) => {
  requireRole(event, 'lector');
  let body: Record<string, unknown>;
  try {
    body = (await event.request.json()) as Record<string, unknown>;
  } catch {
    error(400, 'Pedido inválido.');
  }
  const kind = text(body.kind) as ScheduleKind;
  if (!SCHEDULE_KINDS.includes(kind)) error(400, 'Tipo de programación inválido.');
  const { services } = await getApp();
  const res = await previewRuns(services, {
    kind,
    scheduleId: text(body.scheduleId, 64),
    task: text(body.task),
    startTime: text(body.startTime, 40),
    expires: text(body.expires, 40),
    oneOff: body.oneOff === true,
  });
  return json(res);
};
