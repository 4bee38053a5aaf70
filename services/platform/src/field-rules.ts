import {
  getOption,
  hasOption,
  ScalarType,
  type DescField,
  type DescMessage,
  type MessageShape,
} from '@bufbuild/protobuf';
import type { Path } from '@bufbuild/protobuf/reflect';
import { createValidator, type Violation } from '@bufbuild/protovalidate';
import {
  field as fieldRulesExt,
  Ignore,
  type FieldRules,
} from '@bufbuild/protovalidate/gen/buf/validate/validate_pb.js';
import type { FieldError } from './errors.js';
import { enumAliases, previewJson } from './json-decode.js';

/**
 * The field rules declared once in the proto with protovalidate (`(buf.validate.field)`, see
 * proto/buf/validate/validate.proto): every worker checks a decoded command against them before its own checks,
 * so another system gets the same refusal from any worker, and the published JSON Schemas carry the same rules
 * (proto/gen-schemas.mjs). Each problem names the field as the JSON form writes it, the value received and what is
 * accepted (enums by their JSON names and short names), in Spanish: it is the dead letter's reason and the failed
 * Tarea's message, which staff read.
 */

const validator = createValidator();

/** The rule problems of a decoded message, one per violated field (empty when it keeps every rule). */
export function fieldRuleProblems<D extends DescMessage>(schema: D, message: MessageShape<D>): FieldError[] {
  const result = validator.validate(schema, message);
  if (result.kind === 'valid') return [];
  if (result.kind === 'error') {
    // A rule the validator cannot evaluate is our bug, not the sender's: say so instead of blaming a field.
    return [{ field: '', message: `reglas del mensaje no evaluables: ${result.error.message}` }];
  }
  const seen = new Set<string>();
  const problems: FieldError[] = [];
  for (const v of result.violations) {
    const problem = describe(message, v);
    if (seen.has(problem.field)) continue; // one problem per field: its text lists every rule of the field
    seen.add(problem.field);
    problems.push(problem);
  }
  return problems;
}

/**
 * What a worker refuses in a decoded command: the proto's field rules first, then (when they all hold) the
 * worker's own checks.
 */
export function commandProblems<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  validate?: (m: MessageShape<D>) => readonly FieldError[],
): readonly FieldError[] {
  const problems = [...controlProblems(schema, message), ...fieldRuleProblems(schema, message)];
  const seen = new Set<string>();
  const unique = problems.filter((p) => !seen.has(p.field) && seen.add(p.field));
  return unique.length > 0 ? unique : (validate?.(message) ?? []);
}

/** NUL, the other C0 controls but tab, line feed and carriage return, and DEL. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/**
 * Texts holding NUL or other control characters, in any string of a command (nested messages and lists too):
 * protovalidate's lengths and formats let them through, the RPC ports refuse them (withInputBounds), and a NUL
 * reaching PostgreSQL fails the handler on every redelivery instead of dead-lettering the command as invalid.
 */
export function controlProblems(schema: DescMessage, message: unknown, prefix = '', depth = 0): FieldError[] {
  const problems: FieldError[] = [];
  if (depth > 8 || typeof message !== 'object' || message === null) return problems;
  const msg = message as Record<string, unknown>;
  for (const f of schema.fields) {
    const path = prefix === '' ? f.jsonName : `${prefix}.${f.jsonName}`;
    const holder = f.oneof
      ? (msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined)
      : undefined;
    const value = f.oneof ? (holder?.case === f.localName ? holder.value : undefined) : msg[f.localName];
    const bad = (v: unknown, at: string) => {
      if (typeof v === 'string' && CONTROL.test(v))
        problems.push({
          field: at,
          message: `se recibió ${previewJson(v)}; se espera un texto sin caracteres de control (NUL, ESC, DEL…)`,
        });
    };
    if (f.fieldKind === 'scalar' && f.scalar === ScalarType.STRING) bad(value, path);
    else if (f.fieldKind === 'list' && f.listKind === 'scalar' && f.scalar === ScalarType.STRING)
      (value as unknown[] | undefined)?.forEach((v, i) => bad(v, `${path}[${i}]`));
    else if (f.fieldKind === 'message') problems.push(...controlProblems(f.message, value, path, depth + 1));
    else if (f.fieldKind === 'list' && f.listKind === 'message')
      (value as unknown[] | undefined)?.forEach((v, i) =>
        problems.push(...controlProblems(f.message, v, `${path}[${i}]`, depth + 1)),
      );
    else if (f.fieldKind === 'map' && f.mapKind === 'scalar' && f.scalar === ScalarType.STRING)
      for (const [k, v] of Object.entries((value as Record<string, unknown> | undefined) ?? {}))
        bad(v, `${path}.${k}`);
  }
  return problems;
}

function describe(message: unknown, v: Violation): FieldError {
  const { path, value, field } = walk(message, v.field);
  if (!field) return { field: path, message: v.message };
  const received = receivedText(field, value);
  return { field: path, message: `se recibió ${received}; ${expectedText(field, v)}` };
}

/** The JSON path of a violation (`cursos[2]`), the value there and its field. */
function walk(message: unknown, p: Path): { path: string; value: unknown; field?: DescField } {
  let path = '';
  let value: unknown = message;
  let field: DescField | undefined;
  for (const el of p) {
    if (el.kind === 'field') {
      field = el;
      path = path === '' ? el.jsonName : `${path}.${el.jsonName}`;
      value = (value as Record<string, unknown> | undefined)?.[el.localName];
    } else if (el.kind === 'list_sub') {
      path = `${path}[${el.index}]`;
      value = (value as unknown[] | undefined)?.[el.index];
    } else if (el.kind === 'map_sub') {
      path = `${path}.${String(el.key)}`;
      value = (value as Record<string, unknown> | undefined)?.[String(el.key)];
    } else {
      path = path === '' ? el.name : `${path}.${el.name}`;
      value = undefined;
    }
  }
  return { path, value, ...(field ? { field } : {}) };
}

function receivedText(field: DescField, value: unknown): string {
  const e =
    field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum')
      ? field.enum
      : undefined;
  if (e && typeof value === 'number') {
    const known = e.values.find((x) => x.number === value);
    return known ? `"${known.name}"` : String(value);
  }
  if (field.fieldKind === 'list' && Array.isArray(value)) return `una lista de ${value.length} elementos`;
  if (value === '' || value === undefined) return 'un valor vacío';
  return previewJson(typeof value === 'bigint' ? value.toString() : value);
}

/** What the field accepts, from all its declared rules (so one text tells everything to fix). */
function expectedText(field: DescField, v: Violation): string {
  const e =
    field.fieldKind === 'enum' || (field.fieldKind === 'list' && field.listKind === 'enum')
      ? field.enum
      : undefined;
  if (e) {
    const accepted = enumAliases(e).accepted.map((a) => a.replace(' (or ', ' (o '));
    return `valores aceptados: ${accepted.join(', ')}`;
  }
  const rules = hasOption(field, fieldRulesExt) ? getOption(field, fieldRulesExt) : undefined;
  if (!rules) return v.message;
  // A violation on a list's item refers to the item rules.
  const item = v.field[v.field.length - 1]?.kind === 'list_sub';
  const r: FieldRules | undefined = item && rules.type.case === 'repeated' ? rules.type.value.items : rules;
  const parts = r ? rulesText(r) : [];
  if (!item && rules.type.case === 'repeated' && rules.type.value.maxItems)
    parts.push(`como máximo ${rules.type.value.maxItems} elementos`);
  if (parts.length === 0) return v.message;
  const optional = r?.ignore === Ignore.IF_ZERO_VALUE ? ' (o vacío)' : '';
  return `se espera ${parts.join(', ')}${optional}`;
}

function rulesText(r: FieldRules): string[] {
  const parts: string[] = [];
  if (r.type.case === 'string') {
    const s = r.type.value;
    const min = Number(s.minLen ?? 0n);
    const max = Number(s.maxLen ?? 0n);
    if (s.wellKnown.case === 'uuid' && s.wellKnown.value)
      parts.push('un UUID, p. ej. "0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90"');
    else if (s.wellKnown.case === 'email' && s.wellKnown.value) parts.push('una dirección de e-mail');
    else parts.push('un texto');
    if (min > 0 && max > 0) parts.push(`de ${min} a ${max} caracteres`);
    else if (min > 0) parts.push(`de al menos ${min} caracteres`);
    else if (max > 0) parts.push(`de hasta ${max} caracteres`);
    if (s.pattern) parts.push(`que cumpla la expresión regular ${s.pattern}`);
    if (s.in.length > 0) parts.push(`uno de ${s.in.map((x) => `"${x}"`).join(', ')}`);
  } else if (r.type.case === 'int32') {
    const n = r.type.value;
    const gte = n.greaterThan.case === 'gte' ? n.greaterThan.value : undefined;
    const lte = n.lessThan.case === 'lte' ? n.lessThan.value : undefined;
    if (gte !== undefined && lte !== undefined) parts.push(`un entero de ${gte} a ${lte}`);
    else if (gte !== undefined) parts.push(`un entero mayor o igual que ${gte}`);
    else if (lte !== undefined) parts.push(`un entero menor o igual que ${lte}`);
  }
  if (r.required && parts.length === 0) parts.push('un valor (es obligatorio)');
  return parts;
}
