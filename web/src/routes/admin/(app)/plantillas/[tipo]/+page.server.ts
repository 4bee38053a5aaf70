import { create } from '@bufbuild/protobuf';
import { error, fail } from '@sveltejs/kit';
import { PlantillaSchema } from '@lucy/proto';
import { getApp } from '$lib/server/app';
import { clientIp, field, requireRole } from '$lib/server/guard';
import {
  isTipoEmail,
  plantillaView,
  TIPO_EMAIL_LABEL,
  TIPO_EMAIL_PB,
  variableView,
  versionView,
  type TipoEmailSlug,
} from '$lib/server/plantillas';
import { callWithFields } from '$lib/server/rpc-fields';
import type { Actions, PageServerLoad } from './$types';

function tipoOf(param: string): TipoEmailSlug {
  if (!isTipoEmail(param)) error(404, 'La plantilla no existe.');
  return param;
}

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const tipo = tipoOf(event.params.tipo);
  const { services } = await getApp();
  const res = await services.call('notifier', () =>
    services.notifier.getPlantilla({ tipo: TIPO_EMAIL_PB[tipo] }),
  );
  return {
    tipo,
    label: TIPO_EMAIL_LABEL[tipo],
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    plantilla: res.ok && res.value.plantilla ? plantillaView(res.value.plantilla) : null,
    variables: res.ok ? res.value.variables.map(variableView) : [],
    versiones: res.ok ? res.value.versiones.map(versionView) : [],
  };
};

/** The editor's content as typed (kept on every answer, so nothing typed is lost). */
function read(form: FormData) {
  return {
    asunto: field(form, 'asunto', 1_000),
    cuerpo: field(form, 'cuerpo', 200_000),
    cuerpo_texto: field(form, 'cuerpo_texto', 200_000),
    version_base: field(form, 'version_base', 12),
  };
}

type Event = Parameters<Actions[string]>[0];

async function save(event: Event) {
  const staff = requireRole(event, 'admin');
  const tipo = tipoOf(event.params.tipo ?? '');
  const values = read(await event.request.formData());
  const { services, audit } = await getApp();
  const res = await callWithFields('notifier', () =>
    services.notifier.updatePlantilla({
      plantilla: create(PlantillaSchema, {
        tipo: TIPO_EMAIL_PB[tipo],
        asunto: values.asunto,
        cuerpo: values.cuerpo,
        cuerpoTexto: values.cuerpo_texto,
      }),
      requestedBy: staff.username,
      versionBase: Number(values.version_base) || 0,
    }),
  );
  if (!res.ok)
    return fail(400, {
      op: 'guardar',
      values,
      fields: res.fields,
      message: res.fields.length ? '' : res.message,
    });
  await audit.record({
    actor: staff.username,
    ip: clientIp(event),
    action: 'plantilla.modificar',
    target: tipo,
    detalles: { version: res.value.plantilla?.version ?? 0, asunto: values.asunto },
  });
  return {
    op: 'guardar',
    ok: true,
    message: `Plantilla guardada (versión ${res.value.plantilla?.version ?? ''}).`,
    avisos: res.value.avisos,
  };
}

export const actions: Actions = {
  guardar: save,
  previsualizar: async (event) => {
    requireRole(event, 'lector');
    const tipo = tipoOf(event.params.tipo);
    const values = read(await event.request.formData());
    const { services } = await getApp();
    const res = await callWithFields('notifier', () =>
      services.notifier.previewPlantilla({
        tipo: TIPO_EMAIL_PB[tipo],
        plantilla: create(PlantillaSchema, {
          tipo: TIPO_EMAIL_PB[tipo],
          asunto: values.asunto,
          cuerpo: values.cuerpo,
          cuerpoTexto: values.cuerpo_texto,
        }),
      }),
    );
    if (!res.ok)
      return fail(400, {
        op: 'previsualizar',
        values,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    return {
      op: 'previsualizar',
      values,
      preview: {
        asunto: res.value.asunto,
        html: res.value.html,
        texto: res.value.texto,
        avisos: res.value.avisos,
      },
    };
  },
  probar: async (event) => {
    const staff = requireRole(event, 'operador');
    const tipo = tipoOf(event.params.tipo);
    const form = await event.request.formData();
    const values = read(form);
    const destinatario = field(form, 'destinatario', 320).trim();
    const { services, audit } = await getApp();
    const res = await callWithFields('notifier', () =>
      services.notifier.sendTestEmail(
        { destinatario, tipo: TIPO_EMAIL_PB[tipo], requestedBy: staff.username },
        { timeoutMs: 60_000 },
      ),
    );
    if (!res.ok)
      return fail(400, {
        op: 'probar',
        values,
        destinatario,
        fields: res.fields,
        message: res.fields.length ? '' : res.message,
      });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'plantilla.email_prueba',
      target: tipo,
      detalles: { destinatario, entrega: res.value.entregaId, respuesta_smtp: res.value.respuestaSmtp },
    });
    return {
      op: 'probar',
      ok: true,
      values,
      destinatario,
      message: `Correo de prueba enviado a ${destinatario} (respuesta del servidor: ${res.value.respuestaSmtp}).`,
    };
  },
  restaurar: async (event) => {
    const staff = requireRole(event, 'admin');
    const tipo = tipoOf(event.params.tipo);
    const version = Number(field(await event.request.formData(), 'version', 12));
    const { services, audit } = await getApp();
    const res = await services.call('notifier', () =>
      services.notifier.restorePlantillaVersion({
        tipo: TIPO_EMAIL_PB[tipo],
        version,
        requestedBy: staff.username,
      }),
    );
    if (!res.ok) return fail(409, { op: 'restaurar', message: res.message, fields: [] });
    await audit.record({
      actor: staff.username,
      ip: clientIp(event),
      action: 'plantilla.restaurar',
      target: tipo,
      detalles: { version_restaurada: version, nueva_version: res.value.plantilla?.version ?? 0 },
    });
    return {
      op: 'restaurar',
      ok: true,
      restored: true,
      message: `Versión ${version} restaurada como versión ${res.value.plantilla?.version ?? ''}.`,
    };
  },
};
