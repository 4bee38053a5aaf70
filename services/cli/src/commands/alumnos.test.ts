import { describe, expect, it } from 'vitest';
import { parseDocumento } from './alumnos.js';

describe('parseDocumento', () => {
  it('accepts the document exactly as `alumnos list` prints it', () => {
    expect(parseDocumento('DNI 43759455', 'DNI')).toEqual({ tipoDocumento: 'DNI', dni: '43759455' });
    expect(parseDocumento('  pas   AB123456 ', 'DNI')).toEqual({ tipoDocumento: 'PAS', dni: 'AB123456' });
  });

  it('takes a bare number with the default type, with or without dots', () => {
    expect(parseDocumento('43759455', 'DNI')).toEqual({ tipoDocumento: 'DNI', dni: '43759455' });
    expect(parseDocumento('43.759.455', 'LC')).toEqual({ tipoDocumento: 'LC', dni: '43759455' });
  });

  it('refuses text that is no document, naming the argument', () => {
    expect(() => parseDocumento('DNI 43 75 x', 'DNI')).toThrow(/^<id-o-dni>: /);
  });
});
