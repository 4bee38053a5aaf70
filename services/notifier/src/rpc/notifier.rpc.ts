/**
 * NotifierService: the templates staff edit (list, get with variables and history, update through validation and
 * sanitising, restore a version, preview with sample data), test e-mails, and the delivery records.
 */
import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { NotFoundError, PermanentError, ValidationError, type FieldError } from '@lucy/platform';
import {
  EntregaSchema,
  PlantillaSchema,
  PlantillaVersionSchema,
  TipoEmail,
  VariablePlantillaSchema,
  type Entrega,
  type NotifierService,
  type Plantilla,
} from '@lucy/proto';
import type { Mailer } from '../adapters/index.js';
import {
  buildEmail,
  esDireccionEmail,
  isTipoEmailConocido,
  nombreTipoEmail,
  prepararPlantilla,
  sanitizeHtml,
  esCuerpoHtml,
  TIPOS_EMAIL,
  VARIABLES_DE_EJEMPLO,
  variablesDe,
  type TipoEmailConocido,
} from '../domain/index.js';
import {
  beginEntrega,
  ESTADOS_ENTREGA,
  finishEntrega,
  guardarVersion,
  listEntregas,
  listPlantillas,
  listVersiones,
  loadPlantilla,
  type PlantillaCache,
  loadVersion,
  type EntregaGuardada,
  type EstadoEntrega,
  type PlantillaGuardada,
  type VersionGuardada,
} from '../db/index.js';

/** Dependencies of {@link createNotifierRpc}. */
export interface NotifierRpcDeps {
  knex: Knex;
  mailer: Mailer;
  clock: () => Date;
  /** The worker's template cache, told when a kind gets a new version here. */
  plantillas?: PlantillaCache;
}

const MAX_LIMIT = 500;

function requireTipo(tipo: TipoEmail, field = 'tipo'): TipoEmailConocido {
  if (isTipoEmailConocido(tipo)) return tipo;
  throw new ValidationError([
    {
      field,
      message: `tipo de e-mail desconocido: debe ser ${TIPOS_EMAIL.map((t) => `«${nombreTipoEmail(t)}»`).join(', ')}.`,
    },
  ]);
}

function requireActor(value: string): string {
  const actor = value.trim();
  if (actor === '') {
    throw new ValidationError([{ field: 'requested_by', message: 'indique quién hace el cambio.' }]);
  }
  return actor.slice(0, 150);
}

function toPlantillaPb(p: PlantillaGuardada): Plantilla {
  return create(PlantillaSchema, {
    tipo: p.tipo,
    asunto: p.asunto,
    cuerpo: p.cuerpo,
    cuerpoTexto: p.cuerpoTexto,
    version: p.version,
    actualizadaEn: timestampFromDate(p.actualizadaEn),
    actualizadaPor: p.actualizadaPor,
  });
}

function toVersionPb(v: VersionGuardada) {
  return create(PlantillaVersionSchema, {
    tipo: v.tipo,
    version: v.version,
    asunto: v.asunto,
    cuerpo: v.cuerpo,
    cuerpoTexto: v.cuerpoTexto,
    creadaEn: timestampFromDate(v.creadaEn),
    creadaPor: v.creadaPor,
    origen: v.origen,
  });
}

function toEntregaPb(e: EntregaGuardada): Entrega {
  return create(EntregaSchema, {
    id: e.id,
    tipo: e.tipo,
    alumnoId: e.alumnoId,
    destinatario: e.destinatario,
    estado: e.estado,
    messageId: e.messageId,
    error: e.error,
    ...(e.enviadaEn ? { enviadaEn: timestampFromDate(e.enviadaEn) } : {}),
    taskId: e.taskId ?? '',
    plantillaVersion: e.plantillaVersion ?? 0,
    respuestaSmtp: e.respuestaSmtp,
    intentos: e.intentos,
    creadaEn: timestampFromDate(e.creadaEn),
    actualizadaEn: timestampFromDate(e.actualizadaEn),
    prueba: e.prueba,
  });
}

async function currentOf(knex: Knex, tipo: TipoEmailConocido): Promise<PlantillaGuardada> {
  const p = await loadPlantilla(knex, tipo);
  if (!p) throw new NotFoundError(`No hay plantilla guardada para «${nombreTipoEmail(tipo)}».`);
  return p;
}

/** The NotifierService implementation. */
export function createNotifierRpc(
  deps: NotifierRpcDeps,
): Omit<
  ServiceImpl<typeof NotifierService>,
  'importPlantillas' | 'getConfiguracionCorreo' | 'updateConfiguracionCorreo'
> {
  const { knex, clock } = deps;
  return {
    async listPlantillas() {
      const stored = await listPlantillas(knex);
      const order = new Map(TIPOS_EMAIL.map((t, i) => [t, i]));
      stored.sort((a, b) => (order.get(a.tipo) ?? 9) - (order.get(b.tipo) ?? 9));
      return { plantillas: stored.map(toPlantillaPb) };
    },

    async getPlantilla(req) {
      const tipo = requireTipo(req.tipo);
      const [plantilla, versiones] = await Promise.all([currentOf(knex, tipo), listVersiones(knex, tipo)]);
      return {
        plantilla: toPlantillaPb(plantilla),
        variables: variablesDe(tipo).map((v) =>
          create(VariablePlantillaSchema, {
            nombre: v.name,
            descripcion: v.descripcion,
            enAsunto: v.enAsunto,
            obligatoria: v.obligatoria,
          }),
        ),
        versiones: versiones.map(toVersionPb),
      };
    },

    async updatePlantilla(req) {
      const p = req.plantilla;
      if (!p) throw new ValidationError([{ field: 'plantilla', message: 'falta la plantilla.' }]);
      const tipo = requireTipo(p.tipo, 'plantilla.tipo');
      const por = requireActor(req.requestedBy);
      const prepared = prepararPlantilla({
        tipo,
        asunto: p.asunto,
        cuerpo: p.cuerpo,
        cuerpoTexto: p.cuerpoTexto,
      });
      const saved = await guardarVersion(knex, {
        tipo,
        asunto: prepared.asunto,
        cuerpo: prepared.cuerpo,
        cuerpoTexto: prepared.cuerpoTexto,
        por,
        origen: 'edición',
        ahora: clock(),
        versionBase: req.versionBase || undefined,
      });
      deps.plantillas?.forget(tipo);
      return { plantilla: toPlantillaPb(saved), avisos: [...prepared.avisos] };
    },

    async restorePlantillaVersion(req) {
      const tipo = requireTipo(req.tipo);
      const por = requireActor(req.requestedBy);
      const old = await loadVersion(knex, tipo, req.version);
      if (!old) {
        throw new NotFoundError(
          `La plantilla «${nombreTipoEmail(tipo)}» no tiene una versión ${req.version}.`,
        );
      }
      const saved = await guardarVersion(knex, {
        tipo,
        asunto: old.asunto,
        cuerpo: old.cuerpo,
        cuerpoTexto: old.cuerpoTexto,
        por,
        origen: `restauración de la versión ${old.version}`,
        ahora: clock(),
      });
      deps.plantillas?.forget(tipo);
      return { plantilla: toPlantillaPb(saved) };
    },

    async previewPlantilla(req) {
      const tipo = requireTipo(req.plantilla?.tipo || req.tipo);
      if (req.plantilla) {
        const prepared = prepararPlantilla({
          tipo,
          asunto: req.plantilla.asunto,
          cuerpo: req.plantilla.cuerpo,
          cuerpoTexto: req.plantilla.cuerpoTexto,
        });
        return {
          asunto: prepared.preview.subject,
          html: prepared.preview.html,
          texto: prepared.preview.text,
          avisos: [...prepared.avisos],
        };
      }
      const stored = await currentOf(knex, tipo);
      const html = esCuerpoHtml(stored.cuerpo) ? sanitizeHtml(stored.cuerpo) : undefined;
      const email = buildEmail(
        tipo,
        { asunto: stored.asunto, cuerpo: html?.html ?? stored.cuerpo, texto: stored.cuerpoTexto },
        VARIABLES_DE_EJEMPLO,
      );
      return {
        asunto: email.subject,
        html: email.html,
        texto: email.text,
        avisos: [...(html?.avisos ?? [])],
      };
    },

    async sendTestEmail(req) {
      const destinatario = req.destinatario.trim();
      requireActor(req.requestedBy);
      if (!esDireccionEmail(destinatario)) {
        throw new ValidationError([
          { field: 'destinatario', message: `«${req.destinatario}» no es una dirección de e-mail válida.` },
        ]);
      }
      let tipo: TipoEmailConocido = TipoEmail.BIENVENIDA;
      let email: { subject: string; text: string; html?: string };
      let plantillaVersion: number | null = null;
      if (req.tipo !== TipoEmail.UNSPECIFIED) {
        tipo = requireTipo(req.tipo);
        const stored = await currentOf(knex, tipo);
        plantillaVersion = stored.version;
        const rendered = buildEmail(
          tipo,
          { asunto: stored.asunto, cuerpo: stored.cuerpo, texto: stored.cuerpoTexto },
          VARIABLES_DE_EJEMPLO,
        );
        email = { ...rendered, subject: `[Prueba] ${rendered.subject}` };
      } else {
        email = {
          subject: 'Prueba de correo - Lucy Tasks',
          text: `Este es un correo de prueba del notificador de Lucy Tasks, pedido por ${req.requestedBy.trim()}.\nSi lo recibió, el envío por SMTP funciona.`,
        };
      }
      const entrega = await beginEntrega(knex, {
        taskId: null,
        tipo,
        alumnoId: '',
        destinatario,
        plantillaVersion,
        messageId: '',
        prueba: true,
        ahora: clock(),
      });
      try {
        const sent = await deps.mailer.send({ to: destinatario, ...email });
        await finishEntrega(knex, entrega.id, {
          estado: 'enviada',
          respuestaSmtp: sent.response,
          messageId: sent.messageId,
          ahora: clock(),
        });
        return { messageId: sent.messageId, respuestaSmtp: sent.response, entregaId: entrega.id };
      } catch (err) {
        const reply = (err as { cause?: { response?: unknown } }).cause?.response;
        await finishEntrega(knex, entrega.id, {
          estado: 'fallida',
          respuestaSmtp: typeof reply === 'string' ? reply : '',
          error: err instanceof Error ? err.message : String(err),
          ahora: clock(),
        });
        // Both kinds reach staff as FailedPrecondition with the Spanish reason (they are looking at it now).
        if (err instanceof Error && !(err instanceof PermanentError)) {
          throw new PermanentError(err.message, { cause: err });
        }
        throw err;
      }
    },

    async listEntregas(req) {
      const problems: FieldError[] = [];
      const estado = req.estado.trim().toLowerCase();
      if (estado && !ESTADOS_ENTREGA.includes(estado as EstadoEntrega)) {
        problems.push({
          field: 'estado',
          message: `estado desconocido «${req.estado}»: debe ser ${ESTADOS_ENTREGA.join(', ')}.`,
        });
      }
      if (req.tipo !== TipoEmail.UNSPECIFIED && !isTipoEmailConocido(req.tipo)) {
        problems.push({ field: 'tipo', message: 'tipo de e-mail desconocido.' });
      }
      const desde = req.desde ? timestampDate(req.desde) : undefined;
      const hasta = req.hasta ? timestampDate(req.hasta) : undefined;
      if (desde && hasta && desde.getTime() > hasta.getTime()) {
        problems.push({ field: 'desde', message: 'la fecha «desde» debe ser anterior a «hasta».' });
      }
      if (req.limit < 0) problems.push({ field: 'limit', message: 'el límite no puede ser negativo.' });
      if (problems.length > 0) throw new ValidationError(problems);
      const rows = await listEntregas(knex, {
        alumnoId: req.alumnoId.trim() || undefined,
        estado: (estado || undefined) as EstadoEntrega | undefined,
        tipo: req.tipo !== TipoEmail.UNSPECIFIED ? req.tipo : undefined,
        taskId: req.taskId.trim() || undefined,
        desde,
        hasta,
        limit: Math.min(req.limit || 50, MAX_LIMIT),
      });
      return { entregas: rows.map(toEntregaPb) };
    },
  };
}
