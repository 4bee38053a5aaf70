import { describe, expect, it } from 'vitest';
import {
  EnviarEmailCommandSchema,
  IngestaManualCommandSchema,
  PurgarTareasCommandSchema,
  TipoEmail,
  TipoEmailSchema,
  TipoIngesta,
  TipoIngestaSchema,
} from '@lucy/proto';
import { decode } from './codec.js';
import { DecodeError } from './errors.js';
import { enumShortNames, fromFriendlyJson, JsonFieldError } from './json-decode.js';

const json = (text: string) => new TextEncoder().encode(text);
const decodeError = (schema: Parameters<typeof decode>[0], text: string): string => {
  try {
    decode(schema, json(text), 'application/json');
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return (err as Error).message;
  }
  throw new Error(`decoded ${text}`);
};

describe('JSON decoding of commands', () => {
  it('accepts an enum written by its short name, in any letter case', () => {
    for (const text of ['preinscriptos', 'PREINSCRIPTOS', 'Preinscriptos', 'TIPO_INGESTA_PREINSCRIPTOS']) {
      const m = decode(
        IngestaManualCommandSchema,
        json(`{"tipo":${JSON.stringify(text)}}`),
        'application/json',
      );
      expect(m.tipo).toBe(TipoIngesta.PREINSCRIPTOS);
    }
    const email = fromFriendlyJson(EnviarEmailCommandSchema, '{"alumnoId":"a1","tipo":"password_reset"}');
    expect(email.tipo).toBe(TipoEmail.PASSWORD_RESET);
  });

  it('still accepts the enum number and the proto field name', () => {
    expect(fromFriendlyJson(IngestaManualCommandSchema, '{"tipo":2,"dry_run":true}')).toMatchObject({
      tipo: TipoIngesta.ASPIRANTES,
      dryRun: true,
    });
  });

  it('names the field, the value received and every accepted enum spelling', () => {
    const message = decodeError(IngestaManualCommandSchema, '{"tipo":"preinscripto"}');
    expect(message).toBe(
      'invalid JSON for lucy.ingest.v1.IngestaManualCommand: field "tipo": received "preinscripto"; accepted values: ' +
        '"TIPO_INGESTA_PREINSCRIPTOS" (or "preinscriptos"), "TIPO_INGESTA_ASPIRANTES" (or "aspirantes"), ' +
        '"TIPO_INGESTA_INGRESANTES" (or "ingresantes")',
    );
  });

  it('names an unknown field and the accepted field names', () => {
    expect(decodeError(IngestaManualCommandSchema, '{"tipo":"aspirantes","dryrun":true}')).toContain(
      'field "dryrun": received an unknown field; accepted fields: "tipo", "desde", "hasta", "dryRun"',
    );
  });

  it('names a scalar of the wrong type and what it expects', () => {
    expect(decodeError(PurgarTareasCommandSchema, '{"retentionDays":"noventa"}')).toContain(
      'field "retentionDays": received "noventa"; expected an integer (a JSON number, or a string of digits)',
    );
    expect(decodeError(IngestaManualCommandSchema, '{"tipo":"aspirantes","dryRun":"si"}')).toContain(
      'field "dryRun": received "si"; expected true or false',
    );
  });

  it('names a malformed timestamp and the form it expects', () => {
    expect(decodeError(IngestaManualCommandSchema, '{"tipo":"aspirantes","desde":"ayer"}')).toContain(
      'field "desde": received "ayer"; expected an RFC 3339 timestamp',
    );
  });

  it('refuses a body that is not a JSON object, saying so', () => {
    expect(decodeError(IngestaManualCommandSchema, '["aspirantes"]')).toContain(
      'the message: received ["aspirantes"]; expected a JSON object',
    );
    expect(decodeError(IngestaManualCommandSchema, '{"tipo":')).toContain(
      'the message: received text that is not JSON',
    );
    expect(() => fromFriendlyJson(IngestaManualCommandSchema, '7')).toThrow(JsonFieldError);
  });

  it('cuts a long received value', () => {
    const message = decodeError(IngestaManualCommandSchema, JSON.stringify({ tipo: 'x'.repeat(500) }));
    expect(message.length).toBeLessThan(400);
    expect(message).toContain('…');
  });

  it('gives no short name to the unspecified value and none that would be ambiguous', () => {
    expect(enumShortNames(TipoIngestaSchema)).toEqual({
      TIPO_INGESTA_PREINSCRIPTOS: 'preinscriptos',
      TIPO_INGESTA_ASPIRANTES: 'aspirantes',
      TIPO_INGESTA_INGRESANTES: 'ingresantes',
    });
    expect(Object.keys(enumShortNames(TipoEmailSchema))).not.toContain('TIPO_EMAIL_UNSPECIFIED');
  });
});
