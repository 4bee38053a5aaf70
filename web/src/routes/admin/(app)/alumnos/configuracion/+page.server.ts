import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { fail } from '@sveltejs/kit';
import { ConfiguracionSchema, TipoIngesta, VentanaIngestaSchema } from '@lucy/proto';
import { fromLocalInput, toLocalInput } from '$lib/beat';
import { getApp } from '$lib/server/app';
import { clientIp, field, requireRole } from '$lib/server/guard';
import {
  auditoria,
  campoDePagina,
  estadoSecreto,
  leerCredenciales,
  queReemplaza,
  serviciosPedidos,
  restablecimiento,
  SERVICIO,
  CAMPOS,
  type CambiosCredenciales,
} from '$lib/server/credenciales';
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
  const [res, purge, ident, correo] = await Promise.all([
    services.call('ingest-sial', () => services.ingest.getConfiguracion({})),
    services.call('scheduler', () => services.scheduler.listPeriodicTasks({ task: PURGAR })),
    services.call('identity-teams', () => services.identity.getConfiguracionIdentidad({})),
    services.call('notifier', () => services.notifier.getConfiguracionCorreo({})),
  ]);
  const ic = ident.ok ? ident.value.configuracion : undefined;
  // identity-teams' settings; its secrets only as set or not (the service never returns them).
  const cuentas = ic
    ? {
        loteMaximo: ic.loteMaximo,
        prefijoUpn: ic.prefijoUpn,
        dominioUpn: ic.dominioUpn,
        prefijoEliminable: ic.prefijoEliminable,
        actualizadoEn: ic.actualizadoEn ? timestampDate(ic.actualizadoEn).toISOString() : null,
        actualizadoPor: ic.actualizadoPor,
      }
    : null;
  const c = res.ok ? res.value.configuracion : undefined;
  const cc = correo.ok ? correo.value.configuracion : undefined;
  // The secrets, write-only: each service says only whether one is set and where it comes from.
  const credenciales = {
    graph: ic
      ? {
          certificado: ic.graphUsaCertificado,
          estado: ic.graphUsaCertificado
            ? 'se usa un certificado'
            : estadoSecreto(ic.graphClientSecretConfigurado, ic.graphClientSecretOrigen),
          // Stored by staff: «Volver al del despliegue» forgets it.
          personal: ic.graphClientSecretOrigen === 'personal',
        }
      : null,
    moodle: ic
      ? {
          estado: estadoSecreto(ic.moodleTokenConfigurado, ic.moodleTokenOrigen),
          personal: ic.moodleTokenOrigen === 'personal',
        }
      : null,
    sial: c
      ? {
          usuario: c.sialUsuario,
          estado: estadoSecreto(c.sialPasswordConfigurada, c.sialCredencialesOrigen),
          personal: c.sialCredencialesOrigen === 'personal',
        }
      : null,
    smtp: cc
      ? {
          personal: cc.credencialesOrigen === 'personal',
          usuario: cc.usuario,
          servidor: cc.servidor,
          remitente: cc.remitente,
          estado: estadoSecreto(cc.passwordConfigurada, cc.credencialesOrigen),
          actualizadoEn: cc.actualizadoEn ? timestampDate(cc.actualizadoEn).toISOString() : null,
          actualizadoPor: cc.actualizadoPor,
        }
      : null,
  };
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
    credenciales,
    problems: [res, purge, ident, correo].flatMap((o) =>
      o.ok ? [] : [{ service: o.service, message: o.message }],
    ),
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
  /** identity-teams' settings: batch limit and UPN prefix (its secrets are in «Credenciales»). */
  cuentas: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const loteText = field(form, 'lote_maximo', 10).trim();
    const prefijo = field(form, 'prefijo_upn', 40).trim();
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
      detalles: cuentasValues,
    });
    return { ok: true, message: 'Configuración de cuentas guardada.' };
  },
  /**
   * Replaces the secrets typed (admin only): each service by its own RPC, so one refusing keeps what the others
   * saved; the page says which were replaced and which not, and why, beside each field. The audit trail records
   * «reemplazado», never a value; nothing typed is ever sent back to the page.
   */
  credenciales: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const leido = leerCredenciales(form, {
      sialUsuario: field(form, 'sial_usuario_actual', 200),
      smtpUsuario: field(form, 'smtp_usuario_actual', 200),
    });
    const pedidos = serviciosPedidos(leido);
    if (pedidos.length === 0)
      return fail(400, {
        message: 'Escriba el secreto nuevo que quiere guardar: un campo vacío conserva el actual.',
        fields: [],
        values: {},
        credencialesValues: leido.usuarios,
      });
    const { services, audit } = await getApp();
    const { cambios } = leido;
    const guardar = async (
      k: keyof CambiosCredenciales,
    ): Promise<{ k: keyof CambiosCredenciales; ok: boolean; message: string; fields: FieldProblem[] }> => {
      const locales = leido.problemas[k];
      if (locales) return { k, ok: false, message: '', fields: locales };
      const servicio = SERVICIO[k];
      const res = await callWithFields(servicio, async () => {
        if (k === 'identity') {
          const id = cambios.identity ?? {};
          if (id.graphClientSecret !== undefined) {
            // Signed in with a certificate, identity-teams would store a secret nothing reads.
            const actual = await services.identity.getConfiguracionIdentidad({});
            if (actual.configuracion?.graphUsaCertificado) return 'certificado' as const;
          }
          await services.identity.updateConfiguracionIdentidad({
            ...(id.graphClientSecret !== undefined ? { graphClientSecret: id.graphClientSecret } : {}),
            ...(id.moodleToken !== undefined ? { moodleToken: id.moodleToken } : {}),
            requestedBy: staff.username,
          });
        } else if (k === 'sial' && cambios.sial) {
          // Only the credentials: without `configuracion` the windows and limits are left as they are.
          await services.ingest.updateConfiguracion({
            sialUsuario: cambios.sial.usuario,
            sialPassword: cambios.sial.password,
            requestedBy: staff.username,
          });
        } else if (k === 'smtp' && cambios.smtp) {
          await services.notifier.updateConfiguracionCorreo({
            usuario: cambios.smtp.usuario,
            password: cambios.smtp.password,
            requestedBy: staff.username,
          });
        }
        return 'guardado' as const;
      });
      if (res.ok && res.value === 'certificado')
        return {
          k,
          ok: false,
          message: '',
          fields: [
            {
              field: 'graph_client_secret',
              message:
                'identity-teams se conecta a Graph con un certificado: un secreto de cliente no se usaría y no se guardó.',
            },
          ],
        };
      if (!res.ok)
        return {
          k,
          ok: false,
          message: res.fields.length ? '' : res.message,
          fields: res.fields.map((f) => ({ ...f, field: campoDePagina(k, f.field) })),
        };
      await audit.record({
        actor: staff.username,
        ip: clientIp(event),
        action: 'configuracion.credenciales',
        target: servicio,
        detalles: auditoria(k, cambios),
      });
      return { k, ok: true, message: '', fields: [] };
    };
    const hechos = await Promise.all(pedidos.map(guardar));
    const guardados = hechos.filter((h) => h.ok).flatMap((h) => queReemplaza(h.k, cambios));
    const fallidos = hechos.filter((h) => !h.ok);
    if (fallidos.length === 0) return { ok: true, message: `Reemplazado: ${guardados.join(', ')}.` };
    const message = [
      guardados.length ? `Reemplazado: ${guardados.join(', ')}.` : '',
      ...fallidos.map(
        (f) =>
          `No se guardó lo de ${SERVICIO[f.k]}: ${f.message || 'revise el campo marcado (lo escrito no se conserva).'}`,
      ),
    ]
      .filter(Boolean)
      .join(' ');
    return fail(fallidos.some((f) => f.fields.length === 0) ? 502 : 400, {
      message,
      fields: fallidos.flatMap((f) => f.fields),
      values: {},
      credencialesValues: leido.usuarios,
    });
  },
  /**
   * Forgets one stored secret (admin only), so the service uses the deployment's again: each service by its own
   * RPC. Audited as «restablecido (despliegue)».
   */
  restablecer: async (event) => {
    const staff = requireRole(event, 'admin');
    const form = await event.request.formData();
    const credencial = field(form, 'credencial', 40);
    const plan = restablecimiento(credencial);
    if (!plan)
      return fail(400, {
        message: `Credencial desconocida «${credencial}»: elija una de la lista.`,
        fields: [],
        values: {},
      });
    const { services, audit } = await getApp();
    // Whether the service has a value after forgetting the stored one (its deployment's), for the answer.
    const res = await callWithFields(plan.servicio, async (): Promise<boolean> => {
      if (plan.servicio === 'identity-teams') {
        const r = await services.identity.updateConfiguracionIdentidad({
          ...(credencial === CAMPOS.graph
            ? { restablecerGraphClientSecret: true }
            : { restablecerMoodleToken: true }),
          requestedBy: staff.username,
        });
        return credencial === CAMPOS.graph
          ? Boolean(r.configuracion?.graphClientSecretConfigurado || r.configuracion?.graphUsaCertificado)
          : Boolean(r.configuracion?.moodleTokenConfigurado);
      }
      if (plan.servicio === 'ingest-sial') {
        const r = await services.ingest.updateConfiguracion({
          restablecerSialCredenciales: true,
          requestedBy: staff.username,
        });
        return Boolean(r.configuracion?.sialPasswordConfigurada);
      }
      const r = await services.notifier.updateConfiguracionCorreo({
        restablecer: true,
        requestedBy: staff.username,
      });
      return Boolean(r.configuracion?.passwordConfigurada);
    });
    if (!res.ok)
      return fail(res.fields.length ? 400 : 502, {
        message: `No se restableció ${plan.nombre}: ${res.message}`,
        fields: [],
        values: {},
      });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'configuracion.credenciales',
      target: plan.servicio,
      detalles: { [credencial]: 'restablecido (despliegue)' },
    });
    return { ok: true, message: res.value ? plan.hecho : plan.sinDespliegue };
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
