import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { callWithFields, fieldProblems } from './rpc-fields.js';

const refused = () =>
  new ConnectError('kwargs.desde: Parámetro desconocido', Code.InvalidArgument, undefined, [
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        violations: [{ field: 'kwargs.desde', description: 'Parámetro desconocido «desde»' }],
      }),
    },
  ]);

describe('the fields a service refused', () => {
  it('reads them from the BadRequest detail', () => {
    expect(fieldProblems(refused())).toEqual([
      { field: 'kwargs.desde', message: 'Parámetro desconocido «desde»' },
    ]);
  });

  it('finds none in an error without that detail', () => {
    expect(fieldProblems(new ConnectError('caído', Code.Unavailable))).toEqual([]);
    expect(fieldProblems(new Error('otro'))).toEqual([]);
  });

  it('keeps them beside the Spanish reason of a failed call', async () => {
    const out = await callWithFields('scheduler', () => Promise.reject(refused()));
    expect(out).toMatchObject({ ok: false, service: 'scheduler', fields: [{ field: 'kwargs.desde' }] });
    const down = await callWithFields('scheduler', () =>
      Promise.reject(new ConnectError('x', Code.Unavailable)),
    );
    expect(down).toMatchObject({ ok: false, fields: [] });
    expect(down.ok ? '' : down.message).toContain('no responde');
  });
});
