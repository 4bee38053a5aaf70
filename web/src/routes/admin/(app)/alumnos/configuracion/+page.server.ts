import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { fail } from '@sveltejs/kit';
import { ConfiguracionSchema, TipoIngesta, VentanaIngestaSchema } from '@lucy/proto';
import { fromLocalInput, toLocalInput } from '$lib/beat';
import { getApp } from '$lib/server/app';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { callWithFields, type FieldProblem } from '$lib/server/rpc-fields';
import type { Actions, PageServerLoad } from './$types';

const TIPOS = ['preinscriptos', 'aspirantes', 'ingresantes'] as const;
type Tipo = (typeof TIPOS)[number];
const PB: Record<Tipo, TipoIngesta> = {
  preinscriptos: TipoIngesta.PREINSCRIPTOS,
  aspirantes: TipoIngesta.ASPIRANTES,
  ingresantes: TipoIngesta.INGRESANTES,
};
/** The maintenance task whose kwargs carry the retention of Tareas and Logs (task-tracker's purge). */
const PURGAR = 'mantenimiento.tasks.purgar_tareas_antiguas';
const tipoOf = (t: TipoIngesta): Tipo | undefined => TIPOS.find((x) => PB[x] === t);

/** The form's values, as typed (Córdoba datetime-local), kept when the service refuses them. */
type Values = Record<string, string | boolean>;

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const [res, purge, ident] = await Promise.all([
    services.call('ingest-sial', () => services.ingest.getConfiguracion({})),
    services.call('scheduler', () => services.scheduler.listPeriodicTasks({ task: PURGAR })),
    services.call('identity-teams', () => services.identity.getConfiguracionIdentidad({})),
  ]);
  const ic = ident.ok ? ident.value.configuracion : undefined;
  // identity-teams' settings; its secrets only as set or not (the service never returns them).
  const cuentas = ic
    ? {
        loteMaximo: ic.loteMaximo,
        prefijoUpn: ic.prefijoUpn,
        dominioUpn: ic.dominioUpn,
        prefijoEliminable: ic.prefijoEliminable,
        moodleTokenConfigurado: ic.moodleTokenConfigurado,
        actualizadoEn: ic.actualizadoEn ? timestampDate(ic.actualizadoEn).toISOString() : null,
        actualizadoPor: ic.actualizadoPor,
      }
    : null;
  const c = res.ok ? res.value.configuracion : undefined;
  const values: Values = {};
  const checkpoints: { tipo: Tipo; ultimaIngesta: string | null; ultimaCantidad: number }[] = [];
  for (const v of c?.ventanas ?? []) {
    const tipo = tipoOf(v.tipo);
    if (!tipo) continue;
    values[`${tipo}_dia_inicio`] = toLocalInput(
      v.diaInicio ? timestampDate(v.diaInicio).toISOString() : null,
    );
    values[`${tipo}_dia_fin`] = toLocalInput(v.diaFin ? timestampDate(v.diaFin).toISOString() : null);
    values[`${tipo}_enviar_email`] = v.enviarEmail;
    values[`${tipo}_activar_teams`] = v.activarTeams;
    values[`${tipo}_activar_moodle`] = v.activarMoodle;
    checkpoints.push({
      tipo,
      ultimaIngesta: v.ultimaIngesta ? timestampDate(v.ultimaIngesta).toISOString() : null,
      ultimaCantidad: Number(v.ultimaCantidad),
    });
  }
  if (c) {
    values.sial_requests_por_segundo = String(c.sialRequestsPorSegundo);
    values.sial_concurrencia = String(c.sialConcurrencia);
  }
  const retencion = purge.ok
    ? purge.value.periodicTasks.map((t) => ({
        id: t.id,
        name: t.name,
        dias: typeof t.kwargs?.retentionDays === 'number' ? t.kwargs.retentionDays : 0,
      }))
    : [];
  return {
    cuentas,
    problems: [res, purge, ident].flatMap((o) => (o.ok ? [] : [{ service: o.service, message: o.message }])),
    loaded: Boolean(c),
    retencion,
    values,
    checkpoints,
    actualizadoEn: c?.actualizadoEn ? timestampDate(c.actualizadoEn).toISOString() : null,
    actualizadoPor: c?.actualizadoPor ?? '',
  };
};

/** `ventanas[1].diaFin` → `aspirantes_dia_fin`: the service's field names as the seed's form names. */
function seedField(f: string): string {
  const m = /^ventanas\[(\d)\]\.(diaInicio|diaFin)$/.exec(f);
  if (m) return `${TIPOS[Number(m[1])] ?? ''}_${m[2] === 'diaInicio' ? 'dia_inicio' : 'dia_fin'}`;
  if (f === 'sialRequestsPorSegundo') return 'sial_requests_por_segundo';
  if (f === 'sialConcurrencia') return 'sial_concurrencia';
  return f;
}

export const actions: Actions = {
  guardar: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const values: Values = {};
    const problems: FieldProblem[] = [];
    const ventanas = TIPOS.map((tipo) => {
      const inicioText = field(form, `${tipo}_dia_inicio`, 40);
      const finText = field(form, `${tipo}_dia_fin`, 40);
      values[`${tipo}_dia_inicio`] = inicioText;
      values[`${tipo}_dia_fin`] = finText;
      for (const flag of ['enviar_email', 'activar_teams', 'activar_moodle'])
        values[`${tipo}_${flag}`] = form.get(`${tipo}_${flag}`) === 'on';
      const inicio = fromLocalInput(inicioText);
      const fin = fromLocalInput(finText);
      if (inicio === null)
        problems.push({ field: `${tipo}_dia_inicio`, message: 'No es una fecha y hora válida.' });
      if (fin === null)
        problems.push({ field: `${tipo}_dia_fin`, message: 'No es una fecha y hora válida.' });
      return create(VentanaIngestaSchema, {
        tipo: PB[tipo],
        ...(inicio ? { diaInicio: timestampFromDate(inicio) } : {}),
        ...(fin ? { diaFin: timestampFromDate(fin) } : {}),
        enviarEmail: values[`${tipo}_enviar_email`] === true,
        activarTeams: values[`${tipo}_activar_teams`] === true,
        activarMoodle: values[`${tipo}_activar_moodle`] === true,
      });
    });
    const rps = field(form, 'sial_requests_por_segundo', 20);
    const conc = field(form, 'sial_concurrencia', 20);
    values.sial_requests_por_segundo = rps;
    values.sial_concurrencia = conc;
    const rpsN = Number(rps.replace(',', '.') || '0');
    const concN = Number(conc || '0');
    if (!Number.isFinite(rpsN) || rpsN < 0)
      problems.push({ field: 'sial_requests_por_segundo', message: 'Debe ser un número mayor o igual a 0.' });
    if (!Number.isInteger(concN) || concN < 1 || concN > 256)
      problems.push({ field: 'sial_concurrencia', message: 'Debe ser un número entero entre 1 y 256.' });
    if (problems.length) return fail(400, { values, fields: problems, message: '' });
    const { services, audit } = await getApp();
    const res = await callWithFields('ingest-sial', () =>
      services.ingest.updateConfiguracion({
        configuracion: create(ConfiguracionSchema, {
          ventanas,
          sialRequestsPorSegundo: rpsN,
          sialConcurrencia: concN,
        }),
        requestedBy: staff.username,
      }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values,
        fields: res.fields.map((f) => ({ ...f, field: seedField(f.field) })),
        message: res.fields.length ? '' : res.message,
      });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'configuracion.modificar',
      target: 'ingesta',
      detalles: values,
    });
    return { ok: true, message: 'Configuración guardada.' };
  },
  /** identity-teams' settings: batch limit, UPN prefix and (write-only) the Moodle token. */
  cuentas: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const loteText = field(form, 'lote_maximo', 10).trim();
    const prefijo = field(form, 'prefijo_upn', 40).trim();
    // A secret is replaced only when something is typed; an empty field keeps the stored one.
    const token = field(form, 'moodle_token', 300).trim();
    const cuentasValues = { lote_maximo: loteText, prefijo_upn: prefijo };
    const lote = Number(loteText);
    if (!/^\d{1,4}$/.test(loteText) || lote < 1 || lote > 500)
      return fail(400, {
        message: '',
        values: {},
        cuentasValues,
        fields: [{ field: 'lote_maximo', message: 'Debe ser un número entero entre 1 y 500.' }],
      });
    const { services, audit } = await getApp();
    const res = await callWithFields('identity-teams', () =>
      services.identity.updateConfiguracionIdentidad({
        loteMaximo: lote,
        prefijoUpn: prefijo,
        ...(token ? { moodleToken: token } : {}),
        requestedBy: staff.username,
      }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values: {},
        cuentasValues,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'configuracion.cuentas',
      target: 'identity-teams',
      // Never the token: only that it was replaced.
      detalles: { ...cuentasValues, moodle_token: token ? 'reemplazado' : 'sin cambios' },
    });
    return { ok: true, message: 'Configuración de cuentas guardada.' };
  },
  retencion: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const text = field(form, 'retencion_dias', 10).trim();
    const dias = Number(text);
    if (!Number.isInteger(dias) || dias < 1 || dias > 3650)
      return fail(400, {
        message: '',
        values: {},
        retencionDias: text,
        fields: [{ field: 'retencion_dias', message: 'Debe ser un número entero de días entre 1 y 3650.' }],
      });
    const { services, audit } = await getApp();
    const list = await services.call('scheduler', () =>
      services.scheduler.listPeriodicTasks({ task: PURGAR }),
    );
    if (!list.ok) return fail(502, { message: list.message, fields: [], values: {} });
    if (list.value.periodicTasks.length === 0)
      return fail(409, {
        message: `No hay una tarea periódica de ${PURGAR}: créela en Tareas periódicas para que la retención se aplique.`,
        fields: [],
        values: {},
      });
    for (const t of list.value.periodicTasks) {
      const res = await callWithFields('scheduler', () =>
        services.scheduler.savePeriodicTask({
          periodicTask: { ...t, kwargs: { ...(t.kwargs ?? {}), retentionDays: dias } },
          requestedBy: staff.username,
        }),
      );
      if (!res.ok)
        return fail(400, {
          message: res.fields.length ? res.fields.map((f) => f.message).join(' ') : res.message,
          fields: [],
          values: {},
        });
    }
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'configuracion.retencion',
      target: PURGAR,
      detalles: { dias, tareas: list.value.periodicTasks.map((t) => t.name) },
    });
    return { ok: true, message: `Retención de Tareas y Logs: ${dias} días.` };
  },
  reiniciar: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const tipo = TIPOS.find((t) => t === field(form, 'tipo', 20));
    if (!tipo) return fail(400, { message: 'Tipo de ingesta desconocido.', fields: [], values: {} });
    const { services, audit } = await getApp();
    const res = await services.call('ingest-sial', () =>
      services.ingest.resetCheckpoints({ tipos: [PB[tipo]], requestedBy: staff.username }),
    );
    if (!res.ok) return fail(502, { message: res.message, fields: [], values: {} });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'configuracion.reiniciar_checkpoint',
      target: tipo,
    });
    return {
      ok: true,
      message: `Checkpoint de ${tipo} reiniciado: la próxima ingesta trae la lista completa desde el inicio de la ventana.`,
    };
  },
};
