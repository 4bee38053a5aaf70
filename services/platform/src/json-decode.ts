import {
  fromJson,
  ScalarType,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonValue,
  type MessageShape,
} from '@bufbuild/protobuf';

/**
 * The JSON form of our messages as other systems write it: the protobuf JSON mapping, plus one convenience for
 * enums. Besides the enum's JSON name (`TIPO_INGESTA_PREINSCRIPTOS`) an enum value may be written by its short
 * name, the JSON name without the enum's shared prefix, in any letter case (`preinscriptos`), as the Spanish
 * validation texts and the staff write it. A short name is accepted only when it is unambiguous within its enum
 * (no other value has it as a name or short name); the unspecified value (number 0) has no short name.
 *
 * Errors name the field (its JSON path), the value received and the accepted values exactly as they must be
 * written, so another system can act on a dead letter without reading our code. The same rules produce the JSON
 * Schemas in docs/schemas (proto/gen-schemas.mjs), and a test keeps the two in step.
 */

const PREVIEW_CHARS = 80;

/** A JSON body that does not fit its message; `field` is the JSON path (`""` = the message itself). */
export class JsonFieldError extends Error {
  constructor(
    readonly field: string,
    readonly received: string,
    readonly expected: string,
  ) {
    // A field path can hold a sender's key of any length (an unknown field, a map key): cut it like a value.
    const shown = field.length > PREVIEW_CHARS ? `${field.slice(0, PREVIEW_CHARS)}…` : field;
    super(`${field === '' ? 'the message' : `field "${shown}"`}: received ${received}; ${expected}`);
    this.name = 'JsonFieldError';
  }
}

/** A received value as it appears in an error: JSON, cut at 80 characters. */
export function previewJson(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? 'nothing' : (JSON.stringify(value) ?? 'nothing');
  } catch {
    return 'a value nested too deeply to show';
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** Short name of an enum value (`TIPO_INGESTA_PREINSCRIPTOS` → `preinscriptos`), or undefined when it has none. */
export function enumShortName(e: DescEnum, name: string): string | undefined {
  const prefix = e.sharedPrefix?.toUpperCase();
  if (!prefix || !name.toUpperCase().startsWith(prefix)) return undefined;
  const short = name.slice(prefix.length).toLowerCase();
  return /^[a-z]/.test(short) ? short : undefined;
}

interface EnumAliases {
  /** Lower-cased accepted spelling → enum value name. */
  readonly byLower: ReadonlyMap<string, string>;
  /** The accepted spellings, as the error lists them: `"NAME" (or "short")`. */
  readonly accepted: readonly string[];
}

const aliasCache = new WeakMap<DescEnum, EnumAliases>();

/** The spellings an enum accepts in JSON (names and unambiguous short names), cached per enum. */
export function enumAliases(e: DescEnum): EnumAliases {
  const cached = aliasCache.get(e);
  if (cached) return cached;
  const byLower = new Map<string, string>();
  for (const v of e.values) byLower.set(v.name.toLowerCase(), v.name);
  const shortCount = new Map<string, number>();
  const shortOf = new Map<string, string>();
  for (const v of e.values) {
    if (v.number === 0) continue;
    const short = enumShortName(e, v.name);
    if (!short) continue;
    shortOf.set(v.name, short);
    shortCount.set(short, (shortCount.get(short) ?? 0) + 1);
  }
  const accepted: string[] = [];
  for (const v of e.values) {
    if (v.number === 0) continue;
    const short = shortOf.get(v.name);
    const usable = short !== undefined && shortCount.get(short) === 1 && !byLower.has(short);
    if (usable) byLower.set(short, v.name);
    accepted.push(usable ? `"${v.name}" (or "${short}")` : `"${v.name}"`);
  }
  const result = { byLower, accepted };
  aliasCache.set(e, result);
  return result;
}

/** Enum short names accepted for `e` (name → short name), as published in the JSON Schemas. */
export function enumShortNames(e: DescEnum): Record<string, string> {
  const { byLower } = enumAliases(e);
  const out: Record<string, string> = {};
  for (const [lower, name] of byLower) if (lower !== name.toLowerCase()) out[name] = lower;
  return out;
}

// Well-known types have JSON forms of their own (RFC 3339 strings, any JSON value...): protobuf-es checks them.
const isWellKnown = (m: DescMessage) => m.typeName.startsWith('google.protobuf.');

function resolveEnum(e: DescEnum, value: JsonValue, path: string): JsonValue {
  if (value === null) return value;
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string') {
    const name = enumAliases(e).byLower.get(value.toLowerCase());
    if (name !== undefined) return name;
  }
  throw new JsonFieldError(
    path,
    previewJson(value),
    `accepted values: ${enumAliases(e).accepted.join(', ')}`,
  );
}

const INT_TYPES = new Set([
  ScalarType.INT32,
  ScalarType.SINT32,
  ScalarType.SFIXED32,
  ScalarType.UINT32,
  ScalarType.FIXED32,
  ScalarType.INT64,
  ScalarType.SINT64,
  ScalarType.SFIXED64,
  ScalarType.UINT64,
  ScalarType.FIXED64,
]);

/** What a scalar field accepts, in the words of the error; undefined when the value fits. */
function scalarMismatch(t: ScalarType, value: JsonValue): string | undefined {
  if (value === null) return undefined;
  if (t === ScalarType.STRING) return typeof value === 'string' ? undefined : 'expected a JSON string';
  if (t === ScalarType.BOOL) return typeof value === 'boolean' ? undefined : 'expected true or false';
  if (t === ScalarType.BYTES) return typeof value === 'string' ? undefined : 'expected a base64 string';
  if (INT_TYPES.has(t)) {
    const ok =
      (typeof value === 'number' && Number.isInteger(value)) ||
      (typeof value === 'string' && /^-?\d+$/.test(value));
    return ok ? undefined : 'expected an integer (a JSON number, or a string of digits)';
  }
  const ok =
    typeof value === 'number' ||
    (typeof value === 'string' &&
      (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(value) || ['NaN', 'Infinity', '-Infinity'].includes(value)));
  return ok ? undefined : 'expected a number';
}

function normalizeValue(
  field: DescField,
  kind: 'scalar' | 'enum' | 'message',
  value: JsonValue,
  path: string,
): JsonValue {
  if (kind === 'enum') return resolveEnum(field.enum!, value, path);
  if (kind === 'message') return value === null ? value : normalizeMessage(field.message!, value, path);
  const mismatch = scalarMismatch(field.scalar!, value);
  if (mismatch) throw new JsonFieldError(path, previewJson(value), mismatch);
  return value;
}

const WKT_EXPECTED: Record<string, string> = {
  'google.protobuf.Timestamp':
    'expected an RFC 3339 timestamp in UTC or with an offset, e.g. "2026-02-01T03:00:00Z"',
  'google.protobuf.Duration': 'expected a duration in seconds with the suffix s, e.g. "90s"',
};

function normalizeMessage(desc: DescMessage, json: JsonValue, path: string): JsonValue {
  if (isWellKnown(desc)) {
    try {
      fromJson(desc, json);
    } catch (err) {
      const why = (err as Error).message.replace(/^cannot decode message [\w.]+ from JSON: /, '');
      throw new JsonFieldError(path, previewJson(json), WKT_EXPECTED[desc.typeName] ?? why);
    }
    return json;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new JsonFieldError(path, previewJson(json), `expected a JSON object (${desc.typeName})`);
  }
  const out: Record<string, JsonValue> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    const at = path === '' ? key : `${path}.${key}`;
    if (!field) {
      const names = desc.fields.map((f) => `"${f.jsonName}"`).join(', ');
      throw new JsonFieldError(
        at,
        'an unknown field',
        names === '' ? `${desc.typeName} has no fields` : `accepted fields: ${names}`,
      );
    }
    const fieldKind = field.fieldKind;
    if (value === null || fieldKind === 'scalar' || fieldKind === 'enum' || fieldKind === 'message') {
      out[key] =
        value === null ? null : normalizeValue(field, fieldKind as 'scalar' | 'enum' | 'message', value, at);
    } else if (fieldKind === 'list') {
      if (!Array.isArray(value)) throw new JsonFieldError(at, previewJson(value), 'expected a JSON array');
      out[key] = value.map((item, i) => normalizeValue(field, field.listKind, item, `${at}[${i}]`));
    } else {
      if (typeof value !== 'object' || Array.isArray(value))
        throw new JsonFieldError(at, previewJson(value), 'expected a JSON object (a map)');
      out[key] = Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, normalizeValue(field, field.mapKind, v, `${at}.${k}`)]),
      );
    }
  }
  return out;
}

/**
 * Decodes the JSON form of a message with the rules above (enum short names, errors naming field, value and
 * accepted values). Unknown fields are refused.
 * @throws JsonFieldError for a body that does not fit the message; Error (protobuf-es's, naming the field) for
 *   what only the protobuf JSON mapping checks (a malformed timestamp, an integer out of range).
 */
export function fromFriendlyJson<D extends DescMessage>(schema: D, text: string): MessageShape<D> {
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new JsonFieldError(
      '',
      'text that is not JSON',
      `expected a JSON object (${(err as Error).message})`,
    );
  }
  return fromJson(schema, normalizeMessage(schema, json, ''), { ignoreUnknownFields: false });
}
