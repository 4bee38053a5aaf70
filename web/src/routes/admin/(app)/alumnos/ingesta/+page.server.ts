import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { fail, redirect } from '@sveltejs/kit';
import { TipoIngesta } from '@lucy/proto';
import { fromLocalInput } from '$lib/beat';
import { getApp } from '$lib/server/app';
import { clientIp, field, requireRole } from '$lib/server/guard';
import { callWithFields, type FieldProblem } from '$lib/server/rpc-fields';
import { tareaRow } from '$lib/server/views';
import type { Actions, PageServerLoad } from './$types';

const TIPOS = ['preinscriptos', 'aspirantes', 'ingresantes'] as const;
type Tipo = (typeof TIPOS)[number];
const PB: Record<Tipo, TipoIngesta> = {
  preinscriptos: TipoIngesta.PREINSCRIPTOS,
  aspirantes: TipoIngesta.ASPIRANTES,
  ingresantes: TipoIngesta.INGRESANTES,
};
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PLAN_SHOWN = 100;
/** Spanish names of ingest-sial's rejection categories. */
const MOTIVO: Record<string, string> = {
  datos_invalidos: 'Datos inválidos (documento, e-mail o campos obligatorios)',
  sial: 'SIAL no devolvió los datos personales',
  guardado: 'No se pudieron guardar',
  otros: 'Otros errores',
};

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  event.depends('app:ingesta');
  const id = event.url.searchParams.get('tarea') ?? '';
  if (!ID.test(id)) return { tarea: null, tareaId: '', problems: [] };
  const { services } = await getApp();
  const res = await services.call('task-tracker', () => services.tasks.getTarea({ id }));
  // Just published: task-tracker may not have projected it yet; the live feed brings it.
  return {
    tareaId: id,
    tarea: res.ok && res.value.tarea ? tareaRow(res.value.tarea) : null,
    problems: [],
  };
};

/** The form as typed, and the request it means; problems name the fields in Spanish. */
function read(form: FormData) {
  const values = {
    tipo: field(form, 'tipo', 20),
    desde: field(form, 'desde', 40),
    hasta: field(form, 'hasta', 40),
  };
  const problems: FieldProblem[] = [];
  const tipo = TIPOS.find((t) => t === values.tipo);
  if (!tipo) problems.push({ field: 'tipo', message: 'Elija el tipo de ingesta.' });
  const desde = fromLocalInput(values.desde);
  const hasta = fromLocalInput(values.hasta);
  if (desde === null) problems.push({ field: 'desde', message: 'No es una fecha y hora válida.' });
  if (hasta === null) problems.push({ field: 'hasta', message: 'No es una fecha y hora válida.' });
  if ((desde === undefined) !== (hasta === undefined) && desde !== null && hasta !== null)
    problems.push({
      field: desde ? 'hasta' : 'desde',
      message: 'Indique desde y hasta juntos, o ninguno (lista completa).',
    });
  if (desde && hasta && desde.getTime() > hasta.getTime())
    problems.push({ field: 'hasta', message: 'Debe ser posterior a desde.' });
  return {
    values,
    problems,
    request: {
      tipo: tipo ? PB[tipo] : TipoIngesta.UNSPECIFIED,
      ...(desde ? { desde: timestampFromDate(desde) } : {}),
      ...(hasta ? { hasta: timestampFromDate(hasta) } : {}),
    },
  };
}

export const actions: Actions = {
  plan: async (event) => {
    const staff = requireRole(event, 'operador');
    const { values, problems, request } = read(await event.request.formData());
    if (problems.length) return fail(400, { values, fields: problems, message: '' });
    const { services, audit } = await getApp();
    const res = await callWithFields('ingest-sial', () =>
      services.ingest.planIngesta({ ...request, limit: PLAN_SHOWN }, { timeoutMs: 120_000 }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    const r = res.value.resumen ?? {};
    // ingest-sial's summary uses the seed's keys (created, updated, errors); older builds said creados…
    const num = (...keys: string[]) => {
      for (const k of keys) if (typeof r[k] === 'number') return r[k];
      return 0;
    };
    const categorias = r.errores_categorizados ?? r.errores;
    const errores =
      categorias && typeof categorias === 'object' && !Array.isArray(categorias)
        ? Object.entries(categorias)
            .map(([motivo, n]) => ({
              motivo: MOTIVO[motivo] ?? motivo,
              cantidad: typeof n === 'number' ? n : 0,
            }))
            .filter((e) => e.cantidad > 0)
        : [];
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'ingesta.simular',
      target: values.tipo,
      detalles: { desde: values.desde, hasta: values.hasta, resumen: r },
    });
    return {
      values,
      plan: {
        recibidos: num('recibidos'),
        creados: num('created', 'creados'),
        actualizados: num('updated', 'actualizados'),
        sinCambios: num('sin_cambios'),
        rechazados: num('errors', 'total_errores') + num('descartados'),
        descartados: num('descartados'),
        errores,
        advertencias: Array.isArray(r.advertencias) ? r.advertencias.map(String) : [],
        cambios: res.value.cambios.map((c) => ({
          kind: c.kind,
          documento: `${c.tipoDocumento} ${c.dni}`,
          campos: c.fields.map((f) => f.field).join(', '),
        })),
        omitidos: num('cambios_omitidos'),
      },
    };
  },
  ejecutar: async (event) => {
    const staff = requireRole(event, 'operador');
    const { values, problems, request } = read(await event.request.formData());
    if (problems.length) return fail(400, { values, fields: problems, message: '' });
    const { services, audit } = await getApp();
    const res = await callWithFields('ingest-sial', () =>
      services.ingest.startIngesta({ ...request, dryRun: false, requestedBy: staff.username }),
    );
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        values,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'ingesta.ejecutar',
      target: values.tipo,
      detalles: { desde: values.desde, hasta: values.hasta, tarea: res.value.taskId },
    });
    const q = new URLSearchParams({ tarea: res.value.taskId, ...values });
    redirect(303, `/admin/alumnos/ingesta/?${q.toString()}`);
  },
};
