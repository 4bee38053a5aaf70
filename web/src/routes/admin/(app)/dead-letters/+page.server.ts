import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import { clientIp, requireRole } from '$lib/server/guard';
import { deadLetterView } from '$lib/server/views';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const prefijo = (event.url.searchParams.get('asunto') ?? '').trim().slice(0, 200);
  const cursor = (event.url.searchParams.get('cursor') ?? '').slice(0, 40);
  const res = await services.call('task-tracker', () =>
    services.tasks.listDeadLetters({ subjectPrefix: prefijo, page: { pageSize: 50, pageToken: cursor } }),
  );
  return {
    filtros: { asunto: prefijo, cursor },
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    deadLetters: res.ok ? res.value.deadLetters.map(deadLetterView) : [],
    next: res.ok ? res.value.page?.nextPageToken || '' : '',
  };
};

export const actions: Actions = {
  redrive: async (event) => {
    const staff = requireRole(event, 'operador');
    const form = await event.request.formData();
    const sequences = form
      .getAll('seq')
      .map(String)
      .filter((s) => /^\d{1,19}$/.test(s))
      .slice(0, 500)
      .map((s) => BigInt(s));
    if (!sequences.length) return fail(400, { message: 'Seleccione al menos un dead letter.' });
    const { services, audit } = await getApp();
    const res = await services.call('task-tracker', () =>
      services.tasks.redriveDeadLetters({ sequences, requestedBy: staff.username }),
    );
    if (!res.ok) return fail(502, { message: res.message });
    const results = res.value.results.map((r) => ({
      sequence: r.sequence.toString(),
      ok: r.ok,
      error: r.error,
    }));
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'dead_letter.reenviar',
      target: results.map((r) => r.sequence).join(','),
      detalles: { resultados: results },
    });
    return { results };
  },
};
