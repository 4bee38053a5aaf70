import { describe, expect, it } from 'vitest';
import { validateTaskArgs, type RegisteredTaskSpec } from './task-args.validator.js';

const ingest: RegisteredTaskSpec = {
  name: 'alumnos.tasks.ingestar_preinscriptos',
  acceptsArgs: false,
  kwargs: {
    desde: { type: 'datetime', description: 'inicio de la ventana' },
    lote: { type: 'number', required: true, description: 'tamaño del lote' },
    simular: { type: 'boolean', description: 'no escribir cambios' },
    nota: { type: 'string', description: 'comentario' },
  },
};

describe('task args validation', () => {
  it('accepts arguments that match the spec', () => {
    expect(
      validateTaskArgs(ingest, [], {
        desde: '2026-01-15T10:00:00-03:00',
        lote: 500,
        simular: true,
        nota: 'x',
      }),
    ).toEqual([]);
  });

  it('names unknown, mistyped and missing kwargs, and refused positional args', () => {
    expect(validateTaskArgs(ingest, [1], { desde: '15/01/2026', simular: 'si', extra: 1 })).toEqual([
      {
        field: 'args',
        message:
          'La tarea «alumnos.tasks.ingestar_preinscriptos» no acepta argumentos posicionales: use kwargs',
      },
      {
        field: 'kwargs.desde',
        message: 'Debe ser una fecha y hora ISO 8601 con zona (p. ej. 2026-01-15T10:00:00-03:00)',
      },
      { field: 'kwargs.simular', message: 'Debe ser verdadero o falso' },
      {
        field: 'kwargs.extra',
        message:
          'Parámetro desconocido «extra» para la tarea «alumnos.tasks.ingestar_preinscriptos» ' +
          '(admitidos: desde, lote, simular, nota)',
      },
      { field: 'kwargs.lote', message: 'Falta el parámetro obligatorio «lote» (tamaño del lote)' },
    ]);
  });

  it('rejects args and kwargs of the wrong shape', () => {
    expect(validateTaskArgs({ ...ingest, acceptsArgs: true }, 'x', [])).toEqual([
      { field: 'args', message: 'Debe ser una lista JSON (p. ej. [])' },
      { field: 'kwargs', message: 'Debe ser un objeto JSON (p. ej. {})' },
    ]);
  });

  it('does not mistake inherited object keys for declared kwargs', () => {
    expect(validateTaskArgs(ingest, [], { lote: 1, toString: 'x' })[0]?.field).toBe('kwargs.toString');
  });
});
