import { describe, expect, it } from 'vitest';
import { create, toJsonString } from '@bufbuild/protobuf';
import { IngestaManualCommandSchema, TipoIngesta } from '@lucy/proto';
import { decode, encode } from './codec.js';
import { DecodeError } from './errors.js';

const cmd = create(IngestaManualCommandSchema, { tipo: TipoIngesta.ASPIRANTES, dryRun: true });

describe('codec', () => {
  it('round-trips protobuf binary when no content type is given', () => {
    expect(decode(IngestaManualCommandSchema, encode(IngestaManualCommandSchema, cmd), undefined)).toEqual(
      cmd,
    );
  });

  it('reads the protobuf JSON mapping other systems publish', () => {
    const json = new TextEncoder().encode('{"tipo":"TIPO_INGESTA_ASPIRANTES","dryRun":true}');
    expect(decode(IngestaManualCommandSchema, json, 'application/json; charset=utf-8')).toEqual(cmd);
    expect(toJsonString(IngestaManualCommandSchema, cmd)).toContain('TIPO_INGESTA_ASPIRANTES');
  });

  it('rejects unknown JSON fields, naming the message', () => {
    const json = new TextEncoder().encode('{"tipoo":"x"}');
    expect(() => decode(IngestaManualCommandSchema, json, 'application/json')).toThrow(DecodeError);
    expect(() => decode(IngestaManualCommandSchema, json, 'application/json')).toThrow(
      /lucy\.ingest\.v1\.IngestaManualCommand/,
    );
  });

  it('rejects bytes that are not protobuf', () => {
    expect(() =>
      decode(IngestaManualCommandSchema, new Uint8Array([0xff, 0xff, 0xff]), 'application/protobuf'),
    ).toThrow(DecodeError);
  });

  it('rejects an unsupported content type', () => {
    expect(() => decode(IngestaManualCommandSchema, new Uint8Array(), 'text/xml')).toThrow(
      /unsupported Content-Type/,
    );
  });
});
