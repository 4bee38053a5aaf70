import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import {
  ACCIONES,
  alumnoView,
  AVISO_LOTE,
  cuentaView,
  isAccion,
  LOTE_RECOMENDADO,
  parseFiltros,
  preChecks,
  toFilter,
  UUID,
  type AlumnoView,
  type CuentaView,
  type PreCheck,
} from '$lib/server/alumnos';
import { clientIp, field, requireRole } from '$lib/server/guard';
import type { Actions, PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const f = parseFiltros(event.url.searchParams);
  const res = await services.call('ingest-sial', () =>
    services.alumnos.listAlumnos({ filter: toFilter(f), page: { pageSize: f.n, pageToken: f.cursor } }),
  );
  const alumnos = res.ok ? res.value.alumnos.map(alumnoView) : [];
  const problems = res.ok ? [] : [{ service: res.service, message: res.message }];
  // The account state of the rows shown (identity-teams owns it).
  const cuentas: Record<string, CuentaView> = {};
  if (alumnos.length) {
    const c = await services.call('identity-teams', () =>
      services.identity.listCuentas({ alumnoIds: alumnos.map((a) => a.id), page: { pageSize: 500 } }),
    );
    if (c.ok) for (const cuenta of c.value.cuentas) cuentas[cuenta.alumnoId] = cuentaView(cuenta);
    else problems.push({ service: c.service, message: c.message });
  }
  return {
    filtros: f,
    problems,
    alumnos,
    cuentas,
    next: res.ok ? res.value.page?.nextPageToken || '' : '',
    total: res.ok ? Number(res.value.page?.totalEstimate ?? -1) : -1,
    acciones: Object.entries(ACCIONES).map(([value, a]) => ({ value, label: a.label })),
    lote: LOTE_RECOMENDADO,
    avisoLote: AVISO_LOTE,
  };
};

type Event = Parameters<Actions[string]>[0];

/** The selection posted by the list: valid ids only, no repeats, at most 500. */
function selection(form: FormData): string[] {
  return [
    ...new Set(
      form
        .getAll('ids')
        .filter((v): v is string => typeof v === 'string' && UUID.test(v))
        .slice(0, 500),
    ),
  ];
}

/** Pre-checks of a selection: its alumnos, their accounts and the per-tipo flags of activar. */
async function check(accion: keyof typeof ACCIONES, ids: string[], forzar: boolean) {
  const { services } = await getApp();
  const [al, cu, conf] = await Promise.all([
    services.call('ingest-sial', () =>
      services.alumnos.listAlumnos({ filter: { ids }, page: { pageSize: Math.min(ids.length, 500) } }),
    ),
    services.call('identity-teams', () =>
      services.identity.listCuentas({ alumnoIds: ids, page: { pageSize: 500 } }),
    ),
    services.call('ingest-sial', () => services.ingest.getConfiguracion({})),
  ]);
  for (const r of [al, cu, conf]) if (!r.ok) return { error: r.message };
  const alumnos = new Map<string, AlumnoView>(
    al.ok ? al.value.alumnos.map((a) => [a.id, alumnoView(a)] as const) : [],
  );
  const cuentas = new Map<string, CuentaView>(
    cu.ok ? cu.value.cuentas.map((c) => [c.alumnoId, cuentaView(c)] as const) : [],
  );
  return {
    checks: preChecks(
      accion,
      ids,
      alumnos,
      cuentas,
      conf.ok ? conf.value.configuracion?.ventanas : undefined,
      forzar,
    ),
  };
}

/** Reads and validates an action's form; every action needs at least operador. */
async function readAction(event: Event) {
  const staff = requireRole(event, 'operador');
  const form = await event.request.formData();
  const accion = field(form, 'accion', 20);
  const ids = selection(form);
  const forzar = field(form, 'forzar', 5) === 'on' || field(form, 'forzar', 5) === '1';
  return { staff, form, accion, ids, forzar };
}

export const actions: Actions = {
  /** Shows the pre-check of each selected alumno; nothing is queued. */
  revisar: async (event) => {
    const { accion, ids, forzar } = await readAction(event);
    if (!isAccion(accion)) return fail(400, { message: 'Acción desconocida: elija una de la lista.' });
    if (!ids.length) return fail(400, { message: 'Seleccione al menos un alumno.' });
    const r = await check(accion, ids, forzar);
    if ('error' in r) return fail(503, { message: r.error });
    return {
      revision: {
        accion,
        label: ACCIONES[accion].label,
        forzar,
        checks: r.checks,
        excedeLote: ids.length > LOTE_RECOMENDADO,
      },
    };
  },

  /** Queues the action for the alumnos whose pre-check passed; answers at once with the Tareas created. */
  ejecutar: async (event) => {
    const { staff, accion, ids, forzar, form } = await readAction(event);
    if (!isAccion(accion)) return fail(400, { message: 'Acción desconocida: elija una de la lista.' });
    if (!ids.length) return fail(400, { message: 'Seleccione al menos un alumno.' });
    if (ids.length > LOTE_RECOMENDADO && field(form, 'confirmar_lote', 5) !== 'si')
      return fail(400, { message: AVISO_LOTE });
    const { services, audit } = await getApp();
    const r = await check(accion, ids, forzar);
    if ('error' in r) return fail(503, { message: r.error });
    const pasan = r.checks.filter((c) => c.estado === 'programada').map((c) => c.alumnoId);
    const results = new Map<string, PreCheck>(r.checks.map((c) => [c.alumnoId, c]));
    if (pasan.length) {
      const q = await services.call('identity-teams', () =>
        services.identity.enqueue({
          alumnoIds: pasan,
          taskName: ACCIONES[accion].task,
          requestedBy: staff.username,
          enviarEmail: ACCIONES[accion].enviarEmail,
          forzar,
        }),
      );
      if (!q.ok) {
        await audit.record({
          actor: staff.username,
          ip: clientIp(event),
          action: `alumno.accion.${accion}`,
          target: `${ids.length} alumnos`,
          detalles: { rechazada: q.message, alumnos: ids },
        });
        return fail(409, { message: q.message });
      }
      for (const res of q.value.resultados) {
        const prev = results.get(res.alumnoId);
        if (prev)
          results.set(res.alumnoId, {
            ...prev,
            estado: res.estado as PreCheck['estado'],
            motivo: res.motivo,
            taskId: res.taskId,
          });
      }
    }
    const resultados = ids.map((id) => results.get(id)).filter((x): x is PreCheck => Boolean(x));
    const tareas = resultados.filter((x) => x.estado === 'programada' && x.taskId);
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: `alumno.accion.${accion}`,
      target: `${ids.length} alumnos`,
      detalles: {
        accion: ACCIONES[accion].label,
        forzar,
        programadas: tareas.length,
        tareas: tareas.map((t) => t.taskId),
        rechazados: resultados.filter((x) => x.estado === 'rechazado').map((x) => x.alumnoId),
        omitidos: resultados.filter((x) => x.estado === 'omitido').map((x) => x.alumnoId),
      },
    });
    return { resultado: { accion, label: ACCIONES[accion].label, resultados, programadas: tareas.length } };
  },
};
