// Writes the published contract of the messaging surface from the proto, so it cannot drift from it:
//   ../docs/schemas/<type name>.schema.json  JSON Schema (2020-12) of the JSON form of every command and event
//   ../docs/schemas/index.json               subject(s) → schema file, for tools and the guide's tests
//   ../docs/descriptor-set.binpb             the buf image (a FileDescriptorSet with imports and comments) for
//                                             grpcurl -protoset, Postman and other languages' code generators
// Run by `pnpm gen` (after buf generate); scripts/check.sh fails when the committed files differ.
//
// The schemas describe what to send, in the canonical JSON form: lowerCamelCase field names, enums by their JSON
// name or by their short name (the name without the enum's prefix, lower case: "preinscriptos"; see
// services/platform/src/json-decode.ts, whose test checks that both spell enums alike), 64-bit integers as
// numbers or strings of digits, timestamps in RFC 3339. Unknown fields are refused, as the workers refuse them.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, getOption, hasOption, ScalarType } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

const here = new URL('.', import.meta.url).pathname;
const docs = join(here, '..', 'docs');
const schemasDir = join(docs, 'schemas');
const descriptorSet = join(docs, 'descriptor-set.binpb');

execFileSync('buf', ['build', '-o', descriptorSet], { cwd: here, stdio: 'inherit' });
const image = execFileSync('buf', ['build', '-o', '-#format=binpb'], { cwd: here, maxBuffer: 64 << 20 });
const fds = fromBinary(FileDescriptorSetSchema, new Uint8Array(image));
const registry = createFileRegistry(fds);

// The field rules declared with protovalidate (`(buf.validate.field)`, proto/buf/validate/validate.proto): the
// workers refuse what breaks them (services/platform/src/field-rules.ts), and the schemas carry the ones JSON Schema
// can say (lengths, patterns, e-mail, UUID, ranges, list sizes; an enum's unspecified value is never listed).
const FIELD_RULES = registry.getExtension('buf.validate.field');
const IGNORE_IF_ZERO_VALUE = 1;

// ---------------------------------------------------------------------------------------------- comments
function sourcePath(desc) {
  switch (desc.kind) {
    case 'message':
      return desc.parent
        ? [...sourcePath(desc.parent), 3, desc.parent.nestedMessages.indexOf(desc)]
        : [4, desc.file.messages.indexOf(desc)];
    case 'enum':
      return desc.parent
        ? [...sourcePath(desc.parent), 4, desc.parent.nestedEnums.indexOf(desc)]
        : [5, desc.file.enums.indexOf(desc)];
    case 'field':
      return [...sourcePath(desc.parent), 2, desc.parent.proto.field.indexOf(desc.proto)];
    case 'enum_value':
      return [...sourcePath(desc.parent), 2, desc.parent.values.indexOf(desc)];
    default:
      throw new Error(`no source path for ${desc.kind}`);
  }
}
function fileOf(desc) {
  return desc.kind === 'field' || desc.kind === 'enum_value' ? fileOf(desc.parent) : desc.file;
}
function comment(desc) {
  const path = sourcePath(desc).join(',');
  const loc = fileOf(desc).proto.sourceCodeInfo?.location.find((l) => l.path.join(',') === path);
  return (loc?.leadingComments ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
}

// ----------------------------------------------------------------------------------------- enum spellings
// The same rule as enumShortName/enumAliases in services/platform/src/json-decode.ts.
function enumSpellings(e) {
  const prefix = e.sharedPrefix?.toUpperCase();
  const values = e.values.filter((v) => v.number !== 0);
  const shortOf = new Map();
  const count = new Map();
  for (const v of values) {
    if (!prefix || !v.name.toUpperCase().startsWith(prefix)) continue;
    const short = v.name.slice(prefix.length).toLowerCase();
    if (!/^[a-z]/.test(short)) continue;
    shortOf.set(v.name, short);
    count.set(short, (count.get(short) ?? 0) + 1);
  }
  const names = new Set(e.values.map((v) => v.name.toLowerCase()));
  const spellings = values.map((v) => v.name);
  for (const v of values) {
    const short = shortOf.get(v.name);
    if (short !== undefined && count.get(short) === 1 && !names.has(short)) spellings.push(short);
  }
  return spellings;
}

// ------------------------------------------------------------------------------------------ JSON Schema
const INT32 = [ScalarType.INT32, ScalarType.SINT32, ScalarType.SFIXED32];
const UINT32 = [ScalarType.UINT32, ScalarType.FIXED32];
const INT64 = [ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64];
const UINT64 = [ScalarType.UINT64, ScalarType.FIXED64];

function scalarSchema(t) {
  if (t === ScalarType.STRING) return { type: 'string' };
  if (t === ScalarType.BOOL) return { type: 'boolean' };
  if (t === ScalarType.BYTES) return { type: 'string', contentEncoding: 'base64' };
  if (INT32.includes(t))
    return {
      anyOf: [
        { type: 'integer', minimum: -2147483648, maximum: 2147483647 },
        { type: 'string', pattern: '^-?[0-9]+$' },
      ],
    };
  if (UINT32.includes(t))
    return {
      anyOf: [
        { type: 'integer', minimum: 0, maximum: 4294967295 },
        { type: 'string', pattern: '^[0-9]+$' },
      ],
    };
  if (INT64.includes(t)) return { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?[0-9]+$' }] };
  if (UINT64.includes(t))
    return {
      anyOf: [
        { type: 'integer', minimum: 0 },
        { type: 'string', pattern: '^[0-9]+$' },
      ],
    };
  return { anyOf: [{ type: 'number' }, { enum: ['NaN', 'Infinity', '-Infinity'] }] };
}

const WELL_KNOWN = {
  'google.protobuf.Timestamp': {
    type: 'string',
    format: 'date-time',
    description: 'RFC 3339, e.g. "2026-02-01T03:00:00Z".',
  },
  'google.protobuf.Duration': {
    type: 'string',
    pattern: '^-?[0-9]+(\\.[0-9]{1,9})?s$',
    description: 'Seconds with the suffix s, e.g. "90s".',
  },
  'google.protobuf.Struct': { type: 'object' },
  'google.protobuf.Value': {},
  'google.protobuf.ListValue': { type: 'array' },
  'google.protobuf.Empty': { type: 'object', additionalProperties: false },
  'google.protobuf.FieldMask': { type: 'string' },
  'google.protobuf.StringValue': { type: 'string' },
  'google.protobuf.BoolValue': { type: 'boolean' },
  'google.protobuf.Int32Value': scalarSchema(ScalarType.INT32),
  'google.protobuf.UInt32Value': scalarSchema(ScalarType.UINT32),
  'google.protobuf.Int64Value': scalarSchema(ScalarType.INT64),
  'google.protobuf.UInt64Value': scalarSchema(ScalarType.UINT64),
  'google.protobuf.DoubleValue': scalarSchema(ScalarType.DOUBLE),
  'google.protobuf.FloatValue': scalarSchema(ScalarType.FLOAT),
  'google.protobuf.BytesValue': scalarSchema(ScalarType.BYTES),
};

function withDescription(schema, text) {
  return { ...schema, description: schema.description ? `${text} ${schema.description}` : text };
}

/** Schema of one message; nested messages and enums go to defs (by type name) and are referenced. */
function messageSchema(desc, defs) {
  const properties = {};
  for (const field of desc.fields) {
    const s = fieldSchema(field, defs);
    const text = comment(field);
    properties[field.jsonName] = text ? withDescription(s, text) : s;
  }
  const schema = { type: 'object', additionalProperties: false, properties };
  for (const oneof of desc.oneofs) {
    // The JSON mapping refuses two members of a oneof set at once.
    schema.not ??= { anyOf: [] };
    const names = oneof.fields.map((f) => f.jsonName);
    for (let i = 0; i < names.length; i++)
      for (let j = i + 1; j < names.length; j++) schema.not.anyOf.push({ required: [names[i], names[j]] });
  }
  if (schema.not && schema.not.anyOf.length === 0) delete schema.not;
  return schema;
}

function refTo(desc, defs) {
  if (desc.kind === 'message' && WELL_KNOWN[desc.typeName]) return WELL_KNOWN[desc.typeName];
  if (!(desc.typeName in defs)) {
    defs[desc.typeName] = null; // reserve: recursive messages refer to themselves
    const text = comment(desc);
    const body =
      desc.kind === 'enum' ? { type: 'string', enum: enumSpellings(desc) } : messageSchema(desc, defs);
    defs[desc.typeName] = text ? { description: text, ...body } : body;
  }
  return { $ref: `#/$defs/${desc.typeName}` };
}

function singular(field, kind, defs) {
  if (kind === 'enum') return refTo(field.enum, defs);
  if (kind === 'message') return refTo(field.message, defs);
  return scalarSchema(field.scalar);
}

function fieldSchema(field, defs) {
  const rules = FIELD_RULES && hasOption(field, FIELD_RULES) ? getOption(field, FIELD_RULES) : undefined;
  switch (field.fieldKind) {
    case 'list': {
      const list = { type: 'array', items: singular(field, field.listKind, defs) };
      if (rules?.type.case === 'repeated') {
        const r = rules.type.value;
        if (r.maxItems) list.maxItems = Number(r.maxItems);
        if (r.items) list.items = constrained(list.items, r.items);
      }
      return list;
    }
    case 'map':
      return { type: 'object', additionalProperties: singular(field, field.mapKind, defs) };
    default:
      return rules
        ? constrained(singular(field, field.fieldKind, defs), rules)
        : singular(field, field.fieldKind, defs);
  }
}

/** A value's schema with its protovalidate rules added where JSON Schema can say them. */
function constrained(schema, rules) {
  let out = schema;
  const t = rules.type;
  if (t.case === 'string') {
    const r = t.value;
    out = { ...schema };
    if (rules.required && !r.minLen) out.minLength = 1;
    if (r.minLen) out.minLength = Number(r.minLen);
    if (r.maxLen) out.maxLength = Number(r.maxLen);
    if (r.pattern) out.pattern = r.pattern;
    if (r.in.length > 0) out.enum = [...r.in];
    if (r.wellKnown.case === 'email' && r.wellKnown.value) out.format = 'email';
    if (r.wellKnown.case === 'uuid' && r.wellKnown.value) {
      out.format = 'uuid';
      out.pattern = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
    }
    if (rules.ignore === IGNORE_IF_ZERO_VALUE) out = { anyOf: [{ const: '' }, out] };
  } else if (t.case === 'int32') {
    const r = t.value;
    const bound = (s) => ({
      ...s,
      ...(r.greaterThan.case === 'gte' ? { minimum: r.greaterThan.value } : {}),
      ...(r.lessThan.case === 'lte' ? { maximum: r.lessThan.value } : {}),
    });
    // The string-of-digits form cannot carry a range: the schema asks for a JSON number.
    out = bound(schema.anyOf?.find((s) => s.type === 'integer') ?? schema);
  } else if (t.case === 'enum') {
    // Enum values are listed without the unspecified one (number 0) already; defined_only and not_in [0] say so.
  }
  return out;
}

// ---------------------------------------------------------------------- which messages are the surface
// A message whose comment names its subject in backticks (`lucy.cmd.…` or `lucy.evt.…`), and LogEvent, whose
// file comment does.
const SUBJECT = /`(lucy\.(?:cmd|evt)\.[a-z0-9_.<>|*]+)`/g;
const surface = [];
for (const file of registry.files) {
  if (!file.proto.package.startsWith('lucy.')) continue;
  for (const msg of file.messages) {
    const text = comment(msg);
    let subjects = [...text.matchAll(SUBJECT)].map((m) => m[1]);
    if (msg.typeName === 'lucy.log.v1.LogEvent') subjects = ['lucy.evt.log.<level>'];
    if (subjects.length === 0) continue;
    const kind = subjects[0].startsWith('lucy.cmd.') ? 'command' : 'event';
    surface.push({ msg, subjects: expand(subjects), kind });
  }
}
/** `lucy.cmd.ingest.ingestar_preinscriptos|ingestar_aspirantes` → each subject; `<a|b>` likewise. */
function expand(subjects) {
  const out = [];
  for (const s of subjects) {
    const angle = /<([a-z_|]+)>/.exec(s);
    if (angle && angle[1].includes('|')) {
      for (const alt of angle[1].split('|')) out.push(s.replace(angle[0], alt));
      continue;
    }
    const dot = s.lastIndexOf('.');
    const tail = s.slice(dot + 1);
    if (tail.includes('|')) for (const alt of tail.split('|')) out.push(s.slice(0, dot + 1) + alt);
    else out.push(s);
  }
  return out;
}

// ----------------------------------------------------------------------------------------------- write
mkdirSync(schemasDir, { recursive: true });
for (const name of readdirSync(schemasDir)) if (name.endsWith('.json')) rmSync(join(schemasDir, name));
const index = { commands: {}, events: {} };
surface.sort((a, b) => a.msg.typeName.localeCompare(b.msg.typeName));
for (const { msg, subjects, kind } of surface) {
  const file = `${msg.typeName}.schema.json`;
  const defs = {};
  const body = messageSchema(msg, defs);
  const schema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://lucy-tasks.local/schemas/${file}`,
    title: msg.typeName,
    description: comment(msg),
    'x-lucy-kind': kind,
    'x-lucy-subjects': subjects,
    ...body,
  };
  if (Object.keys(defs).length > 0)
    schema.$defs = Object.fromEntries(Object.entries(defs).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(join(schemasDir, file), `${JSON.stringify(schema, null, 2)}\n`);
  for (const subject of subjects)
    index[kind === 'command' ? 'commands' : 'events'][subject] = { message: msg.typeName, schema: file };
}
writeFileSync(join(schemasDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
console.log(
  `gen-schemas: ${surface.length} schemas in docs/schemas, descriptor set in docs/descriptor-set.binpb`,
);
