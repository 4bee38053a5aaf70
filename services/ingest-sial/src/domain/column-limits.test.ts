import { describe, expect, it } from 'vitest';
import { COLUMN_LIMITS, isPlausibleEmail, jsonProblem, textProblem } from './column-limits.js';
import { parseListItem, parsePersonalData } from './sial-record.js';

const ref = { tipodoc: 'DNI', nrodoc: '40111222' };

describe('column limits', () => {
  it('refuses a NUL byte, an unpaired surrogate and a text longer than its column', () => {
    expect(textProblem('Pérez\u0000')).toMatch(/NUL/);
    expect(textProblem('a\ud800b')).toMatch(/Unicode/);
    expect(textProblem('x'.repeat(121), COLUMN_LIMITS.telefono)).toBe('tiene 121 caracteres (máximo 100)');
    expect(textProblem('x'.repeat(100), COLUMN_LIMITS.telefono)).toBeUndefined();
  });

  it('counts characters as Postgres does: an emoji is one', () => {
    expect(textProblem('😀'.repeat(100), COLUMN_LIMITS.telefono)).toBeUndefined();
    expect(textProblem('😀'.repeat(101), COLUMN_LIMITS.telefono)).toMatch(/101 caracteres/);
  });

  it('finds a NUL deep inside carreras, keys included, and bounds the depth', () => {
    expect(jsonProblem([{ comisiones: [{ nombre_comision: 'A\u0000' }] }])).toMatch(/NUL/);
    expect(jsonProblem([{ ['k\u0000']: 1 }])).toMatch(/NUL/);
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    expect(jsonProblem(deep)).toMatch(/niveles/);
  });

  it('checks an e-mail in linear time, also on 40,000 characters', () => {
    expect(isPlausibleEmail('ana.perez@gmail.com')).toBe(true);
    expect(isPlausibleEmail('ana@gmail')).toBe(false);
    expect(isPlausibleEmail('a@b@c.com')).toBe(false);
    const hostile = `${'a'.repeat(20_000)}@${'.'.repeat(20_000)}`;
    const started = performance.now();
    expect(isPlausibleEmail(hostile)).toBe(false);
    expect(isPlausibleEmail(`a@${'b.'.repeat(20_000)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('SIAL records against the columns', () => {
  it('rejects personal data whose apellido has a NUL byte, naming the field', () => {
    const parsed = parsePersonalData({ nombre: 'Ana', apellido: 'Pé\u0000rez' }, ref);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error).toMatchObject({ categoria: 'datos_invalidos', campo: 'apellido' });
    expect(parsed.error.mensaje).toBe(
      'DNI 40111222: apellido contiene un carácter nulo (NUL); el registro no se guardó',
    );
  });

  it('rejects a telefono of 121 characters', () => {
    const parsed = parsePersonalData({ telefono: '3'.repeat(121) }, ref);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.mensaje).toMatch(/telefono tiene 121 caracteres \(máximo 100\)/);
  });

  it('leaves out an over-long e-mail as an invalid one and keeps the record', () => {
    const parsed = parsePersonalData({ nombre: 'Ana', email: `${'a'.repeat(300)}@x.com` }, ref);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toEqual({ nombre: 'Ana' });
    expect(parsed.issues[0]).toMatchObject({ campo: 'email', categoria: 'datos_invalidos' });
  });

  it('says SIAL did not find the document when personal data is []', () => {
    const parsed = parsePersonalData(null, ref);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.categoria).toBe('sial');
      expect(parsed.error.mensaje).toBe(
        'DNI 40111222: SIAL no encontró el documento en datos personales; se conservan los datos guardados',
      );
    }
  });

  it('rejects a list record whose carreras carry a NUL or whose tipodoc is not a document type', () => {
    const nul = parseListItem({ nrodoc: 1, carreras: [{ nombre_carrera: 'X\u0000' }] }, 0);
    expect(nul.ok).toBe(false);
    const tipodoc = parseListItem({ tipodoc: 'x'.repeat(30), nrodoc: 1, carreras: [] }, 0);
    expect(tipodoc.ok).toBe(false);
    const estado = parseListItem({ nrodoc: 1, carreras: [{ estado_ingreso: 'e'.repeat(101) }] }, 0);
    expect(estado.ok).toBe(false);
  });
});
