/** Pure domain of the notifier: e-mail kinds, templates and recipient choice. */
export {
  TIPOS_EMAIL,
  isTipoEmailConocido,
  nombreTipoEmail,
  variablesDe,
  type EmailVariables,
  type TipoEmailConocido,
  type VariableName,
  type VariableSpec,
} from './email-kinds.js';
export { CURSOS_PENDIENTES, PLANTILLAS_POR_DEFECTO, type PlantillaFuente } from './default-templates.js';
export {
  ASUNTO_MAX,
  VARIABLES_DE_EJEMPLO,
  buildEmail,
  esCuerpoHtml,
  escapeHtml,
  plantillaPorDefecto,
  prepararPlantilla,
  validatePlantilla,
  type PlantillaPreparada,
  type EmailRenderizado,
  type PlantillaEditable,
} from './templates.js';
export { parseTemplate, variablesOf, type ParsedTemplate, type TemplatePart } from './template-syntax.js';
export { htmlToText } from './html-to-text.js';
export {
  elegirDestinatario,
  esDireccionEmail,
  type Destinatario,
  type DireccionesAlumno,
} from './destinatario.js';
export { sanitizeHtml, type SanitizedHtml } from './sanitize-html.js';
export { messageIdFor, dominioDe } from './message-id.js';
