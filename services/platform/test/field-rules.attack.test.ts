import {
  EliminarCuentaExternaCommandSchema,
  EnviarEmailCommandSchema,
  IngestaManualCommandSchema,
  TipoEmail,
  TipoIngesta,
} from '@lucy/proto';
import { create, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { decode } from '../src/codec.js';
import { commandProblems } from '../src/field-rules.js';

// The field rules a worker applies to a command another system sends (commandProblems, called by the runner right
// after decoding), attacked with what the JSON Schema or a quick reading would let through: either encoding,
// enum numbers the proto does not define, NUL and other control characters, lone surrogates, lookalike letters
// in an e-mail, lengths counted in UTF-16 units instead of characters.

const fromJson = <D extends DescMessage>(schema: D, value: unknown) =>
  commandProblems(
    schema,
    decode(schema, new TextEncoder().encode(JSON.stringify(value)), 'application/json'),
  );
const fromBin = <D extends DescMessage>(schema: D, bytes: Uint8Array) =>
  commandProblems(schema, decode(schema, bytes, 'application/protobuf'));
const fields = (problems: readonly { field: string }[]) => problems.map((p) => p.field);

describe('field rules of commands under attack', () => {
  it('refuse an undefined or unspecified enum number in binary as in JSON', () => {
    // tipo = 7 (field 1, varint) and tipo = 0 written explicitly.
    expect(fields(fromBin(IngestaManualCommandSchema, new Uint8Array([0x08, 0x07])))).toEqual(['tipo']);
    expect(fields(fromBin(IngestaManualCommandSchema, new Uint8Array([0x08, 0x00])))).toEqual(['tipo']);
    expect(
      fields(fromBin(IngestaManualCommandSchema, new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0x0f]))),
    ).toEqual(['tipo']);
    // A later occurrence overrides an earlier good one (last wins): the rules see the last.
    expect(fields(fromBin(IngestaManualCommandSchema, new Uint8Array([0x08, 0x02, 0x08, 0x09])))).toEqual([
      'tipo',
    ]);
    expect(fields(fromJson(IngestaManualCommandSchema, { tipo: -1 }))).toEqual(['tipo']);
    expect(fromJson(IngestaManualCommandSchema, { tipo: 'aspirantes' })).toEqual([]);
    expect(
      fromBin(
        IngestaManualCommandSchema,
        toBinary(
          IngestaManualCommandSchema,
          create(IngestaManualCommandSchema, { tipo: TipoIngesta.ASPIRANTES }),
        ),
      ),
    ).toEqual([]);
  });

  it('refuse lookalike letters, NUL and spaces in an e-mail UPN', () => {
    const base = { alumnoId: '0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90', tipo: 'TIPO_EMAIL_BIENVENIDA' };
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...base, upn: 'аlumno@uni.edu.ar' }))).toEqual([
      'upn',
    ]);
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...base, upn: 'alumno\u0000@uni.edu.ar' }))).toEqual([
      'upn',
    ]);
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...base, upn: 'alumno@uni.edu.ar\u0000x' }))).toEqual([
      'upn',
    ]);
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...base, upn: 'alumno@uni.edu.ar ' }))).toEqual([
      'upn',
    ]);
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...base, upn: 'alumno@uni.edu.ar' }))).toEqual([]);
  });

  it.each([
    ['NUL', 'ab\u0000cd'],
    ['a C0 control character', 'ab\u001bcd'],
    ['DEL', 'ab\u007fcd'],
  ])('refuse %s in any text of a command, in JSON and in binary', (_what, bad) => {
    const ok = {
      alumnoId: '0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90',
      upn: 'a@uni.edu.ar',
      motivo: 'baja',
      moodleUsername: 'm1',
    };
    for (const field of ['alumnoId', 'motivo', 'moodleUsername'] as const) {
      const value = { ...ok, [field]: bad };
      expect(fields(fromJson(EliminarCuentaExternaCommandSchema, value))).toEqual([field]);
      const bin = toBinary(
        EliminarCuentaExternaCommandSchema,
        create(EliminarCuentaExternaCommandSchema, value),
      );
      expect(fields(fromBin(EliminarCuentaExternaCommandSchema, bin))).toEqual([field]);
    }
    const email = { alumnoId: ok.alumnoId, tipo: TipoEmail.BIENVENIDA, cursos: ['ok', bad] };
    expect(fields(fromJson(EnviarEmailCommandSchema, { ...email, tipo: 'bienvenida' }))).toEqual([
      'cursos[1]',
    ]);
    expect(fromJson(EliminarCuentaExternaCommandSchema, ok)).toEqual([]);
    // Tabs and line breaks are text, not control: a motivo may have several lines.
    expect(fromJson(EliminarCuentaExternaCommandSchema, { ...ok, motivo: 'uno\n\tdos\r\n' })).toEqual([]);
  });

  it('refuse a lone surrogate as undecodable JSON (it is not UTF-8 text)', () => {
    expect(() => fromJson(EliminarCuentaExternaCommandSchema, { alumnoId: 'x', motivo: 'ab\ud800' })).toThrow(
      /invalid UTF8/,
    );
  });

  it('count lengths in characters, not UTF-16 units, as the schema does', () => {
    const ok = { alumnoId: '0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90', upn: 'a@uni.edu.ar' };
    expect(fromJson(EliminarCuentaExternaCommandSchema, { ...ok, motivo: '😀'.repeat(1000) })).toEqual([]);
    expect(
      fields(fromJson(EliminarCuentaExternaCommandSchema, { ...ok, motivo: '😀'.repeat(1001) })),
    ).toEqual(['motivo']);
  });
});
