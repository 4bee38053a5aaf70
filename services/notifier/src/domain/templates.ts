/**
 * E-mail templates: validation when staff save one, and rendering into subject, plain text and HTML.
 *
 * What changes from the original system: a template that uses a variable its kind does not provide is refused
 * with a message naming it (the original silently fell back to the built-in e-mail); every value is
 * HTML-escaped in the HTML part (the original formatted raw values into HTML); the plain-text part is a real
 * alternative derived from the HTML (the original sent the HTML source as text); the reset e-mail has a
 * template of its own.
 */
import { type FieldError, ValidationError } from '@lucy/platform';
import type { TipoEmail } from '@lucy/proto';
import { CURSOS_PENDIENTES, PLANTILLAS_POR_DEFECTO, type PlantillaFuente } from './default-templates.js';
import {
  type EmailVariables,
  isTipoEmailConocido,
  nombreTipoEmail,
  TIPOS_EMAIL,
  type TipoEmailConocido,
  type VariableName,
  variablesDe,
} from './email-kinds.js';
import { htmlToText } from './html-to-text.js';
import { sanitizeHtml } from './sanitize-html.js';
import { parseTemplate, type TemplatePart, variablesOf } from './template-syntax.js';

/** A rendered e-mail, ready for the mailer. */
export interface EmailRenderizado {
  readonly subject: string;
  /** The plain-text part. */
  readonly text: string;
  /** The HTML part. */
  readonly html: string;
}

/** A template as staff save it (the fields of the `Plantilla` message that matter here). */
export interface PlantillaEditable {
  readonly tipo: TipoEmail;
  readonly asunto: string;
  readonly cuerpo: string;
  /** Plain-text part template; empty or absent: generated from the rendered HTML. */
  readonly cuerpoTexto?: string | undefined;
}

/** Longest subject accepted, in characters (long subjects are cut by mail clients anyway). */
export const ASUNTO_MAX = 200;

/** Values used to check that a template renders and to preview it. */
export const VARIABLES_DE_EJEMPLO: Readonly<Required<EmailVariables>> = Object.freeze({
  nombre: 'Ana María',
  apellido: 'Pérez',
  dni: '30111222',
  email: 'ana.perez@gmail.com',
  upn: 'test-30111222@eco.unrc.edu.ar',
  password: 'Temporal-2468',
  moodle_url: 'https://v.eco.unrc.edu.ar',
  cursos: ['Matemática (Ingreso)', 'Introducción a la Economía'],
});

/** Whether a body is HTML: the rule of the original system and of the `Plantilla` contract. */
export function esCuerpoHtml(cuerpo: string): boolean {
  return /<html/i.test(cuerpo);
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

const list = (names: readonly string[]): string => names.map((n) => `{${n}}`).join(', ');

function tiposQueProveen(name: string): string[] {
  return TIPOS_EMAIL.filter((t) => variablesDe(t).some((spec) => spec.name === name)).map(nombreTipoEmail);
}

function unknownVariableMessage(tipo: TipoEmailConocido, name: string): string {
  const disponibles = list(variablesDe(tipo).map((spec) => spec.name));
  const otros = tiposQueProveen(name);
  const donde = otros.length > 0 ? ` (solo existe en: ${otros.join(', ')})` : '';
  return `la variable {${name}} no está disponible para el correo «${nombreTipoEmail(tipo)}»${donde}. Variables disponibles: ${disponibles}.`;
}

interface CheckedTemplate {
  readonly asunto: readonly TemplatePart[];
  readonly cuerpo: readonly TemplatePart[];
  /** The plain-text template's parts; undefined when the text part is generated. */
  readonly texto: readonly TemplatePart[] | undefined;
}

/** Checks syntax and variables of a template of a kind; throws one ValidationError naming every problem. */
function checkTemplate(tipo: TipoEmailConocido, asunto: string, cuerpo: string, texto = ''): CheckedTemplate {
  const errors: FieldError[] = [];
  const specs = new Map(variablesDe(tipo).map((spec) => [spec.name as string, spec]));

  if (asunto.trim() === '') errors.push({ field: 'asunto', message: 'el asunto está vacío.' });
  if (/[\r\n]/.test(asunto))
    errors.push({ field: 'asunto', message: 'el asunto debe ocupar una sola línea.' });
  if (asunto.length > ASUNTO_MAX)
    errors.push({
      field: 'asunto',
      message: `el asunto es demasiado largo (${asunto.length} caracteres; máximo ${ASUNTO_MAX}).`,
    });
  if (cuerpo.trim() === '') errors.push({ field: 'cuerpo', message: 'el cuerpo está vacío.' });

  const parsedAsunto = parseTemplate(asunto);
  const parsedCuerpo = parseTemplate(cuerpo);
  const parsedTexto = texto.trim() === '' ? undefined : parseTemplate(texto);
  const checked: [string, ReturnType<typeof parseTemplate>][] = [
    ['asunto', parsedAsunto],
    ['cuerpo', parsedCuerpo],
  ];
  if (parsedTexto) checked.push(['cuerpo_texto', parsedTexto]);
  for (const [field, parsed] of checked) {
    for (const issue of parsed.issues) {
      errors.push({ field, message: `línea ${issue.line}, columna ${issue.column}: ${issue.message}` });
    }
    for (const name of variablesOf(parsed)) {
      const spec = specs.get(name);
      if (!spec) errors.push({ field, message: unknownVariableMessage(tipo, name) });
      else if (field === 'asunto' && !spec.enAsunto) {
        const why =
          name === 'password'
            ? ': el asunto se ve en la bandeja de entrada y en los registros, y una contraseña no debe aparecer ahí'
            : '';
        errors.push({ field, message: `la variable {${name}} no puede usarse en el asunto${why}.` });
      }
    }
  }
  // A client that shows only the text part must get the credentials too.
  const bodies: [string, string, ReturnType<typeof parseTemplate>][] = [
    ['cuerpo', 'el cuerpo', parsedCuerpo],
  ];
  if (parsedTexto) bodies.push(['cuerpo_texto', 'el texto plano', parsedTexto]);
  for (const [field, label, parsed] of bodies) {
    const used = new Set(variablesOf(parsed));
    for (const spec of specs.values()) {
      if (spec.obligatoria && !used.has(spec.name)) {
        errors.push({
          field,
          message: `${label} del correo «${nombreTipoEmail(tipo)}» debe incluir {${spec.name}} (${spec.descripcion}).`,
        });
      }
    }
  }
  if (errors.length > 0) {
    throw new ValidationError(
      errors,
      `La plantilla del correo «${nombreTipoEmail(tipo)}» no es válida: ${errors
        .map((e) => `${e.field}: ${e.message}`)
        .join(' ')}`,
    );
  }
  return { asunto: parsedAsunto.parts, cuerpo: parsedCuerpo.parts, texto: parsedTexto?.parts };
}

function requireTipo(tipo: TipoEmail): TipoEmailConocido {
  if (isTipoEmailConocido(tipo)) return tipo;
  throw new ValidationError([
    {
      field: 'tipo',
      message: `tipo de e-mail desconocido (${tipo}): debe ser ${TIPOS_EMAIL.map((t) => `«${nombreTipoEmail(t)}»`).join(', ')}.`,
    },
  ]);
}

type Context = 'asunto' | 'texto' | 'html';

/** Values by name, trimmed (SIAL pads names with spaces); a value is missing when undefined. */
function resolveValues(
  tipo: TipoEmailConocido,
  variables: EmailVariables,
  used: ReadonlySet<string>,
): Map<VariableName, string | readonly string[]> {
  const errors: FieldError[] = [];
  const values = new Map<VariableName, string | readonly string[]>();
  for (const spec of variablesDe(tipo)) {
    if (!used.has(spec.name)) continue;
    const raw = variables[spec.name];
    if (spec.name === 'cursos') {
      const cursos = (Array.isArray(raw) ? (raw as readonly string[]) : [])
        .map((c) => c.trim())
        .filter((c) => c !== '');
      values.set('cursos', cursos);
      continue;
    }
    const value = typeof raw === 'string' ? raw.trim() : undefined;
    if (value === undefined || (spec.obligatoria && value === '')) {
      errors.push({
        field: `variables.${spec.name}`,
        message: `falta el valor de {${spec.name}} (${spec.descripcion}) para el correo «${nombreTipoEmail(tipo)}».`,
      });
      continue;
    }
    values.set(spec.name, value);
  }
  if (errors.length > 0) {
    throw new ValidationError(
      errors,
      `No se puede armar el correo «${nombreTipoEmail(tipo)}»: ${errors.map((e) => e.message).join(' ')}`,
    );
  }
  return values;
}

function formatValue(value: string | readonly string[], context: Context): string {
  if (typeof value === 'string') {
    if (context === 'html') return escapeHtml(value);
    return context === 'asunto' ? value.replace(/\s+/g, ' ') : value;
  }
  if (context === 'html') {
    return value.length === 0
      ? `<p><em>${escapeHtml(CURSOS_PENDIENTES)}</em></p>`
      : `<ul class="list">${value.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>`;
  }
  if (value.length === 0) return CURSOS_PENDIENTES;
  return context === 'asunto' ? value.join(', ') : value.map((c) => `- ${c}`).join('\n');
}

function render(
  parts: readonly TemplatePart[],
  values: ReadonlyMap<string, string | readonly string[]>,
  context: Context,
): string {
  // One pass over the parsed parts: a value that itself looks like `{password}` is never expanded.
  return parts
    .map((part) => {
      if (part.kind === 'text') return part.text;
      const value = values.get(part.name);
      return value === undefined ? '' : formatValue(value, context);
    })
    .join('');
}

function plainTextAsHtml(text: string): string {
  return `<!DOCTYPE html>
<html lang="es">
<head><meta charset="UTF-8" /></head>
<body><div style="white-space: pre-wrap; font-family: Arial, sans-serif; line-height: 1.6;">${escapeHtml(text)}</div></body>
</html>
`;
}

/**
 * Renders an e-mail of a kind from a stored template or, when `plantilla` is undefined, the built-in one. An
 * empty stored subject or body uses the built-in one (as the original did with empty fields). Values are
 * trimmed; in the HTML part every value is escaped; the plain-text part is derived from the HTML (or the HTML
 * part from the text, when the body is plain text).
 * @throws ValidationError naming the unknown, misplaced or missing variables, or the syntax problems, in Spanish.
 */
export function buildEmail(
  tipo: TipoEmail,
  plantilla: PlantillaFuente | undefined,
  variables: EmailVariables,
): EmailRenderizado {
  const kind = requireTipo(tipo);
  const fallback = PLANTILLAS_POR_DEFECTO[kind];
  const asunto = plantilla?.asunto.trim() ? plantilla.asunto : fallback.asunto;
  const cuerpo = plantilla?.cuerpo.trim() ? plantilla.cuerpo : fallback.cuerpo;
  // The stored plain-text part belongs to the stored body: with the built-in body it is not used.
  const texto = plantilla?.cuerpo.trim() ? (plantilla.texto ?? '') : '';
  const checked = checkTemplate(kind, asunto, cuerpo, texto);
  const used = new Set(
    [...checked.asunto, ...checked.cuerpo, ...(checked.texto ?? [])].flatMap((p) =>
      p.kind === 'variable' ? [p.name] : [],
    ),
  );
  const values = resolveValues(kind, variables, used);
  const subject = render(checked.asunto, values, 'asunto').replace(/\s+/g, ' ').trim();
  const storedText = checked.texto ? render(checked.texto, values, 'texto') : undefined;
  if (esCuerpoHtml(cuerpo)) {
    const html = render(checked.cuerpo, values, 'html');
    return { subject, text: storedText ?? htmlToText(html), html };
  }
  const text = render(checked.cuerpo, values, 'texto');
  return { subject, text: storedText ?? text, html: plainTextAsHtml(text) };
}

/**
 * Validates a template staff want to save: a known kind, a one-line subject, correct placeholder syntax, only
 * variables the kind provides (never the password in the subject), the credentials and reset bodies showing
 * {upn} and {password}; then renders it with {@link VARIABLES_DE_EJEMPLO} to prove it renders.
 * @returns the rendered preview.
 * @throws ValidationError with one field error per problem, in Spanish.
 */
export function validatePlantilla(plantilla: PlantillaEditable): EmailRenderizado {
  const kind = requireTipo(plantilla.tipo);
  const texto = plantilla.cuerpoTexto ?? '';
  checkTemplate(kind, plantilla.asunto, plantilla.cuerpo, texto);
  return buildEmail(
    kind,
    { asunto: plantilla.asunto, cuerpo: plantilla.cuerpo, texto },
    VARIABLES_DE_EJEMPLO,
  );
}

/** A template ready to store: sanitised, validated, with its preview and what sanitising changed. */
export interface PlantillaPreparada {
  readonly asunto: string;
  readonly cuerpo: string;
  readonly cuerpoTexto: string;
  readonly avisos: readonly string[];
  readonly preview: EmailRenderizado;
}

/**
 * Prepares a template staff want to save: removes scripts and other active content from an HTML body (see
 * {@link sanitizeHtml}), then validates it like {@link validatePlantilla}. An empty plain-text part stays empty:
 * it is generated from the rendered HTML of each e-mail.
 * @throws ValidationError naming every problem (unknown variables by name, syntax by line and column).
 */
export function prepararPlantilla(plantilla: PlantillaEditable): PlantillaPreparada {
  const html = esCuerpoHtml(plantilla.cuerpo);
  const sanitized = html ? sanitizeHtml(plantilla.cuerpo) : { html: plantilla.cuerpo, avisos: [] };
  const cuerpoTexto = plantilla.cuerpoTexto?.trim() ? plantilla.cuerpoTexto : '';
  const preview = validatePlantilla({
    tipo: plantilla.tipo,
    asunto: plantilla.asunto.trim(),
    cuerpo: sanitized.html,
    cuerpoTexto,
  });
  return {
    asunto: plantilla.asunto.trim(),
    cuerpo: sanitized.html,
    cuerpoTexto,
    avisos: sanitized.avisos,
    preview,
  };
}

/** The built-in template of a kind (what staff start editing from). */
export function plantillaPorDefecto(tipo: TipoEmail): PlantillaFuente {
  return PLANTILLAS_POR_DEFECTO[requireTipo(tipo)];
}
