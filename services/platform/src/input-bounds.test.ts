import { create, fromJson } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { ImportHistorialRequestSchema } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { inputBoundErrors, type InputBounds } from './rpc-server.js';

const request = (tareas: Parameters<typeof create<typeof ImportHistorialRequestSchema>>[1]) =>
  create(ImportHistorialRequestSchema, tareas);

describe('inputBoundErrors', () => {
  const bounds: InputBounds = {
    maxChars: { mensaje_error: 10 },
    defaultMaxChars: 20,
    maxItems: 5,
    labels: { mensaje_error: 'el mensaje de error' },
  };

  it('names the list item and the field (in field-number order), with the bound by bare name or by default', () => {
    const req = request({
      tareas: [
        { originalId: 1n, mensajeError: 'corto' },
        { originalId: 2n, mensajeError: 'x'.repeat(11), usuario: 'u'.repeat(21) },
      ],
    });
    expect(inputBoundErrors(ImportHistorialRequestSchema, req, bounds)).toEqual([
      {
        field: 'tareas[1].usuario',
        message: 'El campo «usuario» admite como máximo 20 caracteres (tiene 21).',
      },
      {
        field: 'tareas[1].mensaje_error',
        message: 'El mensaje de error admite como máximo 10 caracteres (tiene 11).',
      },
    ]);
  });

  it('counts characters, not UTF-16 units, and refuses NUL and lone surrogates anywhere', () => {
    const req = request({
      tareas: [
        { originalId: 1n, mensajeError: '😀'.repeat(10) },
        { originalId: 2n, usuario: 'a\u0000b' },
        { originalId: 3n, alumnoNombre: 'a\ud800b' },
      ],
    });
    expect(inputBoundErrors(ImportHistorialRequestSchema, req, bounds).map((e) => e.field)).toEqual([
      'tareas[1].usuario',
      'tareas[2].alumno_nombre',
    ]);
  });

  it('reads a path through a google.protobuf.Value as the JSON the client sent', () => {
    const detalles = fromJson(ValueSchema, { nota: 'larga', otra: ['a', 'b\u0000'] });
    const req = request({ tareas: [{ originalId: 1n, detalles }] });
    const errors = inputBoundErrors(
      ImportHistorialRequestSchema,
      req,
      // A bound by dotted path: only looked up when one is configured.
      { ...bounds, maxChars: { ...bounds.maxChars, 'tareas[0].detalles.nota': 3 } },
    );
    expect(errors.map((e) => e.field)).toEqual(['tareas[0].detalles.nota', 'tareas[0].detalles.otra[1]']);
    expect(errors[0]?.message).toBe('El campo «nota» admite como máximo 3 caracteres (tiene 5).');
  });

  it('bounds a field or key named like an Object method (constructor, toString) like any other', () => {
    const detalles = fromJson(ValueSchema, { constructor: 'x'.repeat(21), toString: 'a\u0000' });
    const req = request({ tareas: [{ originalId: 1n, detalles }] });
    expect(inputBoundErrors(ImportHistorialRequestSchema, req, bounds)).toEqual([
      {
        field: 'tareas[0].detalles.constructor',
        message: 'El campo «constructor» admite como máximo 20 caracteres (tiene 21).',
      },
      {
        field: 'tareas[0].detalles.toString',
        message: 'El campo «toString» contiene caracteres no válidos (NUL, de control o UTF-16 incompleto).',
      },
    ]);
  });

  it('refuses a list longer than maxItems', () => {
    const req = request({ tareas: Array.from({ length: 6 }, (_, i) => ({ originalId: BigInt(i + 1) })) });
    expect(inputBoundErrors(ImportHistorialRequestSchema, req, bounds)).toEqual([
      { field: 'tareas', message: 'El campo «tareas» admite como máximo 5 elementos (tiene 6).' },
    ]);
  });
});
