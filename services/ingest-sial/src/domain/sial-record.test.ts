import { describe, expect, it } from 'vitest';
import { rawCarrera, rawListItem, rawPersonal } from './alumno.factories.js';
import { parseListItem, parsePersonalData } from './sial-record.js';

const ref = { tipodoc: 'DNI', nrodoc: '30111222' };

function rejectedMessage(raw: unknown, position = 0): string {
  const parsed = parseListItem(raw, position);
  if (parsed.ok) throw new Error('expected the record to be rejected');
  expect(parsed.error.categoria).toBe('datos_invalidos');
  return parsed.error.mensaje;
}

describe('list record parsing', () => {
  it('accepts a well-formed record and normalises nrodoc to text', () => {
    const parsed = parseListItem(rawListItem(), 0);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.tipodoc).toBe('DNI');
    expect(parsed.value.nrodoc).toBe('30111222');
    expect(parsed.value.principal).toEqual({
      fechaInscri: '2024-12-06',
      anioInscri: 2024,
      cohorte: 2025,
      modalidad: '2',
    });
    expect(parsed.issues).toEqual([]);
  });

  it('defaults a missing tipodoc to DNI and accepts nrodoc as a digit string', () => {
    const parsed = parseListItem(rawListItem({ tipodoc: undefined, nrodoc: ' 030111222 ' }), 0);
    expect(parsed.ok && parsed.value).toMatchObject({ tipodoc: 'DNI', nrodoc: '30111222' });
  });

  it('rejects a record that is not an object', () => {
    expect(rejectedMessage('hola', 4)).toBe('Registro 5 de la lista: el registro no es un objeto');
  });

  it('rejects a record without nrodoc and hints at a renamed field', () => {
    const { nrodoc, ...rest } = rawListItem();
    expect(rejectedMessage(rest, 2)).toBe('Registro 3 de la lista: falta nrodoc');
    expect(rejectedMessage({ ...rest, nro_documento: nrodoc }, 2)).toBe(
      'Registro 3 de la lista: falta nrodoc (trae «nro_documento»: ¿cambió el formato de SIAL?)',
    );
  });

  it('rejects an nrodoc that is not a document number', () => {
    expect(rejectedMessage(rawListItem({ nrodoc: 'abc' }))).toBe(
      'Registro 1 de la lista: nrodoc inválido «abc»',
    );
    for (const nrodoc of [0, -5, 3.5, true, { n: 1 }]) rejectedMessage(rawListItem({ nrodoc }));
  });

  it('rejects carreras that is not an array', () => {
    expect(rejectedMessage(rawListItem({ carreras: rawCarrera() }))).toMatch(
      /^DNI 30111222: carreras no es una lista «\{"id_carrera":3/,
    );
    expect(rejectedMessage(rawListItem({ carreras: 'CONTADOR PÚBLICO' }))).toBe(
      'DNI 30111222: carreras no es una lista «CONTADOR PÚBLICO»',
    );
    expect(rejectedMessage(rawListItem({ carreras: undefined }))).toBe('DNI 30111222: falta carreras');
  });

  it('rejects carreras whose elements are not objects', () => {
    expect(rejectedMessage(rawListItem({ carreras: [rawCarrera(), 7] }))).toBe(
      'DNI 30111222: carreras[1] no es un objeto «7»',
    );
  });

  it('keeps a record with an invalid fecha_inscri, reporting the field', () => {
    const parsed = parseListItem(rawListItem({ carreras: [rawCarrera({ fecha_inscri: '31/02/2025' })] }), 0);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.principal?.fechaInscri).toBeUndefined();
    expect(parsed.issues).toEqual([
      {
        categoria: 'datos_invalidos',
        registro: 'DNI 30111222',
        campo: 'fecha_inscri',
        mensaje: 'DNI 30111222: fecha_inscri inválida «31/02/2025»',
      },
    ]);
  });

  it('reports an invalid cohorte or modalidad and leaves them out', () => {
    const parsed = parseListItem(
      rawListItem({ carreras: [rawCarrera({ cohorte: 'abc', modalidad: '3' })] }),
      0,
    );
    if (!parsed.ok) throw new Error('expected ok');
    expect(parsed.value.principal?.cohorte).toBeUndefined();
    expect(parsed.value.principal?.modalidad).toBeUndefined();
    expect(parsed.issues.map((i) => i.campo)).toEqual(['cohorte', 'modalidad']);
  });

  it('treats a null or zero cohorte as absent, without an issue', () => {
    for (const cohorte of [null, 0, '']) {
      const parsed = parseListItem(rawListItem({ carreras: [rawCarrera({ cohorte })] }), 0);
      if (!parsed.ok) throw new Error('expected ok');
      expect(parsed.value.principal?.cohorte).toBeUndefined();
      expect(parsed.issues).toEqual([]);
    }
  });

  it('accepts an empty carreras list, with no principal carrera', () => {
    const parsed = parseListItem(rawListItem({ carreras: [] }), 0);
    expect(parsed.ok && parsed.value.principal).toBeUndefined();
  });
});

describe('personal data parsing', () => {
  it('trims apellido and converts fecha_natal with the two-digit pivot', () => {
    const parsed = parsePersonalData(rawPersonal(), ref);
    expect(parsed.ok && parsed.value).toEqual({
      nombre: 'VIRGINIA SOLEDAD',
      apellido: 'BRUSASCA',
      email: 'virginia.brusasca@gmail.com',
      fechaNacimiento: '1980-01-19',
      telefono: '54-358-486-2940',
      localidad: 'General Deheza',
    });
  });

  it('leaves out empty fields instead of returning blanks', () => {
    const parsed = parsePersonalData(rawPersonal({ email: '', telefono: '   ', localidad: null }), ref);
    if (!parsed.ok) throw new Error('expected ok');
    expect(parsed.value).not.toHaveProperty('email');
    expect(parsed.value).not.toHaveProperty('telefono');
    expect(parsed.value).not.toHaveProperty('localidad');
    expect(parsed.issues).toEqual([]);
  });

  it('reports an invalid email and fecha_natal and leaves them out', () => {
    const parsed = parsePersonalData(rawPersonal({ email: 'no es un mail', fecha_natal: '30/02/99' }), ref);
    if (!parsed.ok) throw new Error('expected ok');
    expect(parsed.value.email).toBeUndefined();
    expect(parsed.value.fechaNacimiento).toBeUndefined();
    expect(parsed.issues.map((i) => i.mensaje)).toEqual([
      'DNI 30111222: email inválido «no es un mail»',
      'DNI 30111222: fecha_natal inválida «30/02/99»',
    ]);
  });

  it('rejects personal data of another document', () => {
    const parsed = parsePersonalData(rawPersonal({ nrodoc: '99888777' }), ref);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.categoria).toBe('sial');
    expect(parsed.error.mensaje).toBe(
      'DNI 30111222: los datos personales corresponden a otro documento «99888777»; se ignoran',
    );
  });

  it('rejects personal data that is not an object', () => {
    const parsed = parsePersonalData(['x'], ref);
    expect(parsed.ok).toBe(false);
  });

  it('never passes email_institucional through', () => {
    const parsed = parsePersonalData(rawPersonal({ email_institucional: 'a30111222@unrc.edu.ar' }), ref);
    expect(parsed.ok && Object.keys(parsed.value)).not.toContain('email_institucional');
  });
});
