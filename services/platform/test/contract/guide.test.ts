import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { decode } from '../../src/codec.js';
import { DecodeError } from '../../src/errors.js';
import { enumAliases } from '../../src/json-decode.js';
import { fieldRuleProblems } from '../../src/field-rules.js';
import {
  GUIDE,
  guideExamples,
  RULE_VIOLATIONS,
  messagesByTypeName,
  readSchema,
  schemaIndex,
  SCHEMAS,
} from './contract-files.js';

// ajv-formats is CommonJS with a default export; under NodeNext its callable is the module's default.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: true, allErrors: true, strictTuples: false }));
ajv.addKeyword('x-lucy-kind');
ajv.addKeyword('x-lucy-subjects');
for (const file of readdirSync(SCHEMAS).filter((f) => f.endsWith('.schema.json')))
  ajv.addSchema(readSchema(file));

const index = schemaIndex();
const entryOf = (subject: string) => index.commands[subject] ?? index.events[subject];
const validatorOf = (subject: string) => {
  const entry = entryOf(subject);
  if (!entry) throw new Error(`no schema for subject ${subject}`);
  const v = ajv.getSchema(`https://lucy-tasks.local/schemas/${entry.schema}`);
  if (!v) throw new Error(`schema ${entry.schema} not loaded`);
  return v;
};
const json = (text: string) => new TextEncoder().encode(text);

describe('the published JSON Schemas', () => {
  it('compile, and cover every command subject of the task catalog and the events others consume', () => {
    expect(Object.keys(index.commands).sort()).toEqual(
      [
        'lucy.cmd.identity.activar_servicios',
        'lucy.cmd.identity.crear_usuario_teams',
        'lucy.cmd.identity.eliminar_cuenta_externa',
        'lucy.cmd.identity.resetear_password',
        'lucy.cmd.ingest.ingesta_manual',
        'lucy.cmd.ingest.ingestar_aspirantes',
        'lucy.cmd.ingest.ingestar_ingresantes',
        'lucy.cmd.ingest.ingestar_preinscriptos',
        'lucy.cmd.notify.enviar_email',
        'lucy.cmd.tracker.purgar_tareas',
      ].sort(),
    );
    for (const s of [
      'lucy.evt.alumno.created',
      'lucy.evt.alumno.updated',
      'lucy.evt.alumno.deleted',
      'lucy.evt.cuenta.activada',
      'lucy.evt.cuenta.eliminada',
      'lucy.evt.task.started',
      'lucy.evt.task.succeeded',
      'lucy.evt.task.failed',
      'lucy.evt.task.skipped',
    ])
      expect(index.events[s], s).toBeDefined();
    for (const subject of [...Object.keys(index.commands), ...Object.keys(index.events)])
      expect(typeof validatorOf(subject)).toBe('function');
  });

  it('spell every enum as the decoder reads it: each listed spelling decodes, and nothing else is listed', () => {
    for (const entry of Object.values(index.commands)) {
      const schema = readSchema(entry.schema);
      const desc = messagesByTypeName.get(entry.message)!;
      expect(desc, entry.message).toBeDefined();
      for (const field of desc.fields) {
        if (field.fieldKind !== 'enum') continue;
        const def = (schema.$defs as Record<string, { enum: string[] }>)[field.enum.typeName]!;
        const decoderSpellings = [...enumAliases(field.enum).byLower.keys()].filter(
          (s) => !/_unspecified$/.test(s),
        );
        expect(def.enum.map((s) => s.toLowerCase()).sort()).toEqual(decoderSpellings.sort());
        for (const spelling of def.enum) {
          const m = decode(desc, json(JSON.stringify({ [field.jsonName]: spelling })), 'application/json');
          expect((m as unknown as Record<string, number>)[field.localName]).toBeGreaterThan(0);
        }
      }
    }
  });

  it('refuse what the decoder refuses: an unknown field, a wrong enum, a wrong type', () => {
    const v = validatorOf('lucy.cmd.ingest.ingesta_manual');
    for (const bad of ['{"tipo":"preinscripto"}', '{"tipo":"aspirantes","dryrun":true}', '{"dryRun":"si"}']) {
      expect(v(JSON.parse(bad)), bad).toBe(false);
      expect(() =>
        decode(messagesByTypeName.get('lucy.ingest.v1.IngestaManualCommand')!, json(bad), 'application/json'),
      ).toThrow(DecodeError);
    }
  });
});

describe('the field rules declared in the proto', () => {
  it.each(RULE_VIOLATIONS.map((v) => [v.subject, v] as const))(
    'a command breaking one on %s decodes, is refused by the rules, and its schema refuses it too',
    (subject, { body, reason }) => {
      expect(validatorOf(subject)(JSON.parse(body)), body).toBe(false);
      const desc = messagesByTypeName.get(entryOf(subject)!.message)!;
      const problems = fieldRuleProblems(desc, decode(desc, json(body), 'application/json'));
      const text = problems.map((p) => `${p.field}: ${p.message}`).join('; ');
      let from = 0;
      for (const piece of reason) {
        const at = text.indexOf(piece, from);
        expect(at, `"${piece}" in "${text}"`).toBeGreaterThanOrEqual(0);
        from = at + piece.length;
      }
    },
  );

  it('hold for every example of the guide', () => {
    for (const e of guideExamples()) {
      const entry = index.commands[e.subject];
      if (!entry) continue;
      const desc = messagesByTypeName.get(entry.message)!;
      expect(fieldRuleProblems(desc, decode(desc, json(e.json), 'application/json')), e.subject).toEqual([]);
    }
  });
});

describe('the guide (docs/integrating.md)', () => {
  const examples = guideExamples();

  it('has a JSON example for each command another system may send', () => {
    const subjects = new Set(examples.map((e) => e.subject));
    for (const s of [
      'lucy.cmd.ingest.ingesta_manual',
      'lucy.cmd.identity.activar_servicios',
      'lucy.cmd.identity.resetear_password',
      'lucy.cmd.identity.eliminar_cuenta_externa',
      'lucy.cmd.notify.enviar_email',
      'lucy.cmd.tracker.purgar_tareas',
      'lucy.evt.alumno.created',
      'lucy.evt.cuenta.activada',
      'lucy.evt.task.succeeded',
    ])
      expect(subjects, s).toContain(s);
  });

  it.each(guideExamples().map((e) => [`${e.subject} (line ${e.line})`, e] as const))(
    'example %s is valid against its schema and decodes as its message',
    (_name, example) => {
      const value = JSON.parse(example.json) as unknown;
      const validate = validatorOf(example.subject);
      expect(validate(value), JSON.stringify(validate.errors)).toBe(true);
      const desc = messagesByTypeName.get(entryOf(example.subject)!.message)!;
      expect(() => decode(desc, json(example.json), 'application/json')).not.toThrow();
    },
  );

  it('quotes the dead-letter reasons the field rules give', () => {
    const text = readFileSync(GUIDE, 'utf8');
    const rows = [...text.matchAll(/^\| `(\{.*?\})`\s*\| `invalid: ([^`]*se recibió[^`]*)`.*\|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(1);
    const desc = messagesByTypeName.get('lucy.ingest.v1.IngestaManualCommand')!;
    for (const [, body, quoted] of rows) {
      const actual = fieldRuleProblems(desc, decode(desc, json(body!), 'application/json'))
        .map((p) => `${p.field}: ${p.message}`)
        .join('; ');
      let from = 0;
      for (const piece of quoted!
        .split('…')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const at = actual.indexOf(piece, from);
        expect(at, `"${piece}" in "${actual}"`).toBeGreaterThanOrEqual(0);
        from = at + piece.length;
      }
    }
  });

  it('quotes the dead-letter reasons the decoder gives', () => {
    const text = readFileSync(GUIDE, 'utf8');
    const rows = [...text.matchAll(/^\| `(\{.*?\})`\s*\| `undecodable: (.*?)`\s*\|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const desc = messagesByTypeName.get('lucy.ingest.v1.IngestaManualCommand')!;
    for (const [, body, quoted] of rows) {
      let actual = '';
      try {
        decode(desc, json(body!), 'application/json');
      } catch (err) {
        actual = (err as Error).message;
      }
      let from = 0;
      for (const piece of quoted!
        .split('…')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const at = actual.indexOf(piece, from);
        expect(at, `"${piece}" in "${actual}"`).toBeGreaterThanOrEqual(0);
        from = at + piece.length;
      }
    }
  });
});
