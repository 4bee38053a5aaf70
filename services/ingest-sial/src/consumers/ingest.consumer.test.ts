import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { IngestaManualCommandSchema, TipoIngesta } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { csvCell } from '../rpc/alumno.rpc.js';
import { describeWait, ingestBackoffMs, validateManual } from './ingest.consumer.js';

const at = (iso: string) => timestampFromDate(new Date(iso));

describe('validateManual', () => {
  it('accepts a tipo alone or with a full range', () => {
    expect(validateManual(create(IngestaManualCommandSchema, { tipo: TipoIngesta.ASPIRANTES }))).toEqual([]);
    expect(
      validateManual(
        create(IngestaManualCommandSchema, {
          tipo: TipoIngesta.INGRESANTES,
          desde: at('2026-01-01T00:00:00Z'),
          hasta: at('2026-01-02T00:00:00Z'),
        }),
      ),
    ).toEqual([]);
  });

  it('names each invalid field in Spanish', () => {
    expect(validateManual(create(IngestaManualCommandSchema, {})).map((e) => e.field)).toEqual(['tipo']);
    expect(
      validateManual(
        create(IngestaManualCommandSchema, {
          tipo: TipoIngesta.ASPIRANTES,
          desde: at('2026-01-01T00:00:00Z'),
        }),
      ),
    ).toEqual([{ field: 'hasta', message: 'Indique la fecha «hasta» junto con «desde».' }]);
    const reversed = validateManual(
      create(IngestaManualCommandSchema, {
        tipo: TipoIngesta.ASPIRANTES,
        desde: at('2026-01-02T00:00:00Z'),
        hasta: at('2026-01-01T00:00:00Z'),
      }),
    );
    expect(reversed).toEqual([
      { field: 'desde', message: 'La fecha «desde» debe ser anterior a la fecha «hasta».' },
    ]);
  });
});

describe('csvCell', () => {
  it('quotes separators and neutralises formulas', () => {
    expect(csvCell('Pérez, Ana')).toBe('"Pérez, Ana"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell(2026)).toBe('2026');
  });
});

describe('the wait a failed attempt states', () => {
  it('follows the worker curve, 1 s · 4^(n−1) up to 5 minutes', () => {
    expect([1, 2, 3, 4, 5, 6].map(ingestBackoffMs)).toEqual([1000, 4000, 16_000, 64_000, 256_000, 300_000]);
  });

  it('reads as staff say it', () => {
    expect(describeWait(300)).toBe('300 ms');
    expect(describeWait(16_000)).toBe('16 s');
    expect(describeWait(64_000)).toBe('1 min 4 s');
    expect(describeWait(300_000)).toBe('5 min');
  });
});
