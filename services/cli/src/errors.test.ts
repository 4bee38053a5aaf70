import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { describeError, fieldLabel } from './errors.js';

const invalid = (violations: { field: string; description: string }[]) =>
  new ConnectError(
    violations.map((v) => `${v.field}: ${v.description}`).join('; '),
    Code.InvalidArgument,
    undefined,
    [{ desc: BadRequestSchema, value: create(BadRequestSchema, { violations }) }],
  );

describe('fieldLabel', () => {
  it('names wire paths in Spanish, whatever their case or array index', () => {
    expect(fieldLabel('crontab.minute')).toBe('Minuto del crontab');
    expect(fieldLabel('task')).toBe('Tarea registrada');
    expect(fieldLabel('name')).toBe('Nombre');
    expect(fieldLabel('page.pageToken')).toBe('Página (--pagina)');
    expect(fieldLabel('filter.estados[2]')).toBe('Estado');
    expect(fieldLabel('kwargs.desde')).toBe('Parámetro «desde»');
    expect(fieldLabel('no_such_field')).toBeUndefined();
  });
});

describe('describeError', () => {
  it('labels each invalid field from the BadRequest detail and keeps the gRPC code out of the message', () => {
    const r = describeError(
      invalid([
        { field: 'crontab.minute', description: 'Minuto inválido «99» (use 0–59)' },
        { field: 'task', description: 'Tarea no registrada «x»' },
      ]),
    );
    expect(r.message).toBe(
      'Minuto del crontab: Minuto inválido «99» (use 0–59); Tarea registrada: Tarea no registrada «x»',
    );
    expect(r.message).not.toMatch(/\(3\)|invalid_argument|crontab\.minute/);
    expect(r).toMatchObject({ code: 'invalid_argument', codeNumber: 3 });
    expect(r.fields?.[0]).toEqual({
      field: 'crontab.minute',
      label: 'Minuto del crontab',
      description: 'Minuto inválido «99» (use 0–59)',
    });
  });

  it('relabels the paths of a message without details and leaves unknown ones as they are', () => {
    const err = new ConnectError('name: Ya existe; rareza: algo', Code.InvalidArgument);
    expect(describeError(err).message).toBe('Nombre: Ya existe; rareza: algo');
  });

  it('says how to start the services when none answers', () => {
    const err = new ConnectError('connect ECONNREFUSED 127.0.0.1:7101', Code.Unavailable);
    expect(describeError(err).message).toMatch(
      /^No se pudo conectar con el servicio en 127\.0\.0\.1:7101: ¿está en marcha\?/,
    );
  });

  it('passes the CLI’s own errors through unchanged', () => {
    expect(describeError(new Error('--estado: valor desconocido "x"'))).toEqual({
      message: '--estado: valor desconocido "x"',
    });
  });
});
