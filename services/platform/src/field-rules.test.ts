import {
  ActivarServiciosCommandSchema,
  EliminarCuentaExternaCommandSchema,
  EnviarEmailCommandSchema,
  IngestaManualCommandSchema,
  PurgarTareasCommandSchema,
} from '@lucy/proto';
import type { DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { decode } from './codec.js';
import { commandProblems, fieldRuleProblems } from './field-rules.js';

const json = <D extends DescMessage>(schema: D, text: string) =>
  fieldRuleProblems(schema, decode(schema, new TextEncoder().encode(text), 'application/json'));

describe('field rules declared in the proto (protovalidate)', () => {
  it('name the field, the value received and the accepted enum values, in Spanish', () => {
    expect(json(IngestaManualCommandSchema, '{"tipo":"TIPO_INGESTA_UNSPECIFIED"}')).toEqual([
      {
        field: 'tipo',
        message:
          'se recibió "TIPO_INGESTA_UNSPECIFIED"; valores aceptados: "TIPO_INGESTA_PREINSCRIPTOS" (o "preinscriptos"), ' +
          '"TIPO_INGESTA_ASPIRANTES" (o "aspirantes"), "TIPO_INGESTA_INGRESANTES" (o "ingresantes")',
      },
    ]);
    // Absent is the unspecified value too; an integer the enum does not define is refused by defined_only.
    expect(json(IngestaManualCommandSchema, '{}')[0]?.field).toBe('tipo');
    expect(json(IngestaManualCommandSchema, '{"tipo":7}')[0]?.message).toMatch(
      /^se recibió 7; valores aceptados/,
    );
    expect(json(IngestaManualCommandSchema, '{"tipo":"aspirantes"}')).toEqual([]);
  });

  it('check e-mails, lengths, list sizes and ranges', () => {
    expect(json(ActivarServiciosCommandSchema, JSON.stringify({ alumnoId: 'x'.repeat(65) }))).toEqual([
      {
        field: 'alumnoId',
        message: `se recibió "${'x'.repeat(65)}"; se espera un texto, de hasta 64 caracteres`,
      },
    ]);
    expect(
      json(
        EliminarCuentaExternaCommandSchema,
        '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90","upn":"test-a30111222"}',
      ),
    ).toEqual([
      {
        field: 'upn',
        message:
          'se recibió "test-a30111222"; se espera una dirección de e-mail, de hasta 256 caracteres (o vacío)',
      },
    ]);
    // An empty UPN is "not given" (IGNORE_IF_ZERO_VALUE).
    expect(
      json(EliminarCuentaExternaCommandSchema, '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90"}'),
    ).toEqual([]);
    expect(
      json(EnviarEmailCommandSchema, '{"alumnoId":"a1","tipo":"bienvenida","cursos":["MAT1",""]}'),
    ).toEqual([
      { field: 'cursos[1]', message: 'se recibió un valor vacío; se espera un texto, de 1 a 255 caracteres' },
    ]);
    const many = JSON.stringify({ alumnoId: 'a1', tipo: 'enrolamiento', cursos: Array(101).fill('C') });
    expect(json(EnviarEmailCommandSchema, many)).toEqual([
      {
        field: 'cursos',
        message: 'se recibió una lista de 101 elementos; se espera como máximo 100 elementos',
      },
    ]);
    expect(json(PurgarTareasCommandSchema, '{"batchSize":60000}')).toEqual([
      { field: 'batchSize', message: 'se recibió 60000; se espera un entero de 0 a 50000' },
    ]);
    expect(json(PurgarTareasCommandSchema, '{"retentionDays":-1}')[0]?.field).toBe('retentionDays');
  });

  it('come before the worker own checks, which run only when the rules hold', () => {
    const own = () => [{ field: 'hasta', message: 'propia' }];
    const bad = decode(IngestaManualCommandSchema, new TextEncoder().encode('{}'), 'application/json');
    expect(commandProblems(IngestaManualCommandSchema, bad, own)[0]?.field).toBe('tipo');
    const ok = decode(
      IngestaManualCommandSchema,
      new TextEncoder().encode('{"tipo":"aspirantes"}'),
      'application/json',
    );
    expect(commandProblems(IngestaManualCommandSchema, ok, own)).toEqual(own());
    expect(commandProblems(IngestaManualCommandSchema, ok)).toEqual([]);
  });
});
