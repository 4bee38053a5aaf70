import { randomUUID } from 'node:crypto';
import { fail } from '@sveltejs/kit';
import { getApp } from '$lib/server/app';
import {
  ACCIONES,
  alumnoView,
  AVISO_LOTE,
  CUENTA_FILTRO_LABEL,
  CUENTA_FILTROS,
  idsPorCuenta,
  isCuentaIdentity,
  MAX_IDS_CUENTA,
  cuentaView,
  isAccion,
  type Accion,
  LOTE_RECOMENDADO,
  parseFiltros,
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
  const problems: { service: string; message: string }[] = [];
  // The carreras present, for the carrera select.
  const carrerasRes = await services.call('ingest-sial', () => services.alumnos.listCarreras({}));
  const carreras = carrerasRes.ok
    ? carrerasRes.value.carreras.map((c) => ({
        id: String(c.idCarrera),
        nombre: c.nombreCarrera || `Carrera ${c.idCarrera}`,
        alumnos: Number(c.alumnos),
      }))
    : [];
  // An account state identity-teams keeps: its records name the alumnos, the list shows them with the other filters.
  let porCuenta: { ids: string[]; cortado: boolean } | undefined;
  if (isCuentaIdentity(f.cuenta)) {
    const filtro = f.cuenta;
    const r = await services.call('identity-teams', () =>
      idsPorCuenta(filtro, async (token, estado) => {
        const p = await services.identity.listCuentas({ estado, page: { pageSize: 500, pageToken: token } });
        return {
          cuentas: p.cuentas.map(cuentaView),
          alumnoIds: p.cuentas.map((c) => c.alumnoId),
          next: p.page?.nextPageToken ?? '',
        };
      }),
    );
    if (r.ok) porCuenta = r.value;
    else {
      problems.push({ service: r.service, message: r.message });
      porCuenta = { ids: [], cortado: false };
    }
  }
  const res =
    porCuenta && porCuenta.ids.length === 0
      ? undefined
      : await services.call('ingest-sial', () =>
          services.alumnos.listAlumnos({
            filter: toFilter(f, porCuenta?.ids ?? []),
            page: { pageSize: f.n, pageToken: f.cursor },
          }),
        );
  const alumnos = res?.ok ? res.value.alumnos.map(alumnoView) : [];
  if (res && !res.ok) problems.push({ service: res.service, message: res.message });
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
    next: res?.ok ? res.value.page?.nextPageToken || '' : '',
    total: res === undefined ? 0 : res.ok ? Number(res.value.page?.totalEstimate ?? -1) : -1,
    carreras,
    cuentaFiltros: CUENTA_FILTROS.map((value) => ({ value, label: CUENTA_FILTRO_LABEL[value] })),
    cuentaCortado: porCuenta?.cortado ?? false,
    maxIdsCuenta: MAX_IDS_CUENTA,
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

/** Names and DNI of the selected alumnos, to show beside each pre-check (empty when ingest-sial does not answer). */
async function nombres(ids: string[]): Promise<Map<string, AlumnoView>> {
  const { services } = await getApp();
  const al = await services.call('ingest-sial', () =>
    services.alumnos.listAlumnos({ filter: { ids }, page: { pageSize: Math.min(ids.length, 500) } }),
  );
  return new Map(al.ok ? al.value.alumnos.map((a) => [a.id, alumnoView(a)] as const) : []);
}

/** Per alumno, what identity-teams says of it (its PreCheck, or Enqueue's answer), with its name and DNI. */
function withNames(
  resultados: { alumnoId: string; estado: string; motivo: string; taskId: string }[],
  alumnos: Map<string, AlumnoView>,
): PreCheck[] {
  return resultados.map((r) => {
    const a = alumnos.get(r.alumnoId);
    return {
      alumnoId: r.alumnoId,
      nombre: a ? `${a.apellido}, ${a.nombre}` : r.alumnoId,
      dni: a?.dni ?? '',
      estado: r.estado as PreCheck['estado'],
      motivo: r.motivo,
      taskId: r.taskId,
    };
  });
}

/** The pre-checks of a selection, as identity-teams' PreCheck answers them (the rule Enqueue applies). */
async function check(accion: Accion, ids: string[], forzar: boolean) {
  const { services } = await getApp();
  const [pc, alumnos] = await Promise.all([
    services.call('identity-teams', () =>
      services.identity.preCheck({
        alumnoIds: ids,
        taskName: ACCIONES[accion].task,
        enviarEmail: ACCIONES[accion].enviarEmail,
        forzar,
      }),
    ),
    nombres(ids),
  ]);
  if (!pc.ok) return { error: pc.message };
  return { checks: withNames(pc.value.resultados, alumnos), loteMaximo: pc.value.loteMaximo };
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
        loteMaximo: r.loteMaximo,
        // The confirmation's idempotency key: a double submit of this confirmation queues nothing twice, while
        // reviewing again (a second password reset on purpose) is a new request, not a retry of this one.
        clave: randomUUID(),
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
    const clave = field(form, 'clave', 64);
    // Enqueue applies the pre-checks itself (the same rule as PreCheck) and answers per alumno.
    const [q, alumnos] = await Promise.all([
      services.call('identity-teams', () =>
        services.identity.enqueue(
          {
            alumnoIds: ids,
            taskName: ACCIONES[accion].task,
            requestedBy: staff.username,
            enviarEmail: ACCIONES[accion].enviarEmail,
            forzar,
          },
          UUID.test(clave) ? { headers: { 'idempotency-key': clave } } : undefined,
        ),
      ),
      nombres(ids),
    ]);
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
    const results = new Map<string, PreCheck>(
      withNames(q.value.resultados, alumnos).map((c) => [c.alumnoId, c] as const),
    );
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
