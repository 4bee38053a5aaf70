import { describe, expect, it } from 'vitest';
import { mapSialAlumno, type IncomingAlumno } from './alumno-mapping.js';
import { rawCarrera, rawListItem, rawPersonal, storedAlumno } from './alumno.factories.js';
import { mergeAlumno } from './alumno-merge.js';
import { parseListItem, parsePersonalData, type SialListItem, type SialPersonalData } from './sial-record.js';

function listItem(overrides: Record<string, unknown> = {}): SialListItem {
  const parsed = parseListItem(rawListItem(overrides), 0);
  if (!parsed.ok) throw new Error(parsed.error.mensaje);
  return parsed.value;
}

function personal(overrides: Record<string, unknown> = {}): SialPersonalData {
  const parsed = parsePersonalData(rawPersonal(overrides), { tipodoc: 'DNI', nrodoc: '30111222' });
  if (!parsed.ok) throw new Error(parsed.error.mensaje);
  return parsed.value;
}

const incoming = (
  overrides: Record<string, unknown> = {},
  personalOverrides: Record<string, unknown> | null = {},
): IncomingAlumno =>
  mapSialAlumno(listItem(overrides), personalOverrides ? personal(personalOverrides) : null);

describe('alumno mapping', () => {
  it('maps SIAL records to the ingestion-owned fields', () => {
    expect(incoming()).toEqual({
      tipo_documento: 'DNI',
      dni: '30111222',
      nombre: 'VIRGINIA SOLEDAD',
      apellido: 'BRUSASCA',
      email_personal: 'virginia.brusasca@gmail.com',
      fecha_nacimiento: '1980-01-19',
      cohorte: 2025,
      localidad: 'General Deheza',
      telefono: '54-358-486-2940',
      fecha_ingreso: '2024-12-06',
      modalidad: '2',
      carreras: rawListItem().carreras,
    });
  });

  it('takes cohorte from the year of fecha_inscri when carreras[0] has none', () => {
    expect(incoming({ carreras: [rawCarrera({ cohorte: null })] }).cohorte).toBe(2024);
  });

  it('keeps estado_ingreso of carreras[0] when SIAL sends it', () => {
    expect(incoming({ carreras: [rawCarrera({ estado_ingreso: ' Condicional ' })] }).estado_ingreso).toBe(
      'Condicional',
    );
  });

  it('leaves names and e-mail out when personal data is missing', () => {
    const mapped = incoming({}, null);
    expect(mapped).not.toHaveProperty('nombre');
    expect(mapped).not.toHaveProperty('apellido');
    expect(mapped).not.toHaveProperty('email_personal');
  });

  it('never produces fields owned by other services', () => {
    const mapped = incoming({}, { email_institucional: 'x@unrc.edu.ar' }) as unknown as Record<
      string,
      unknown
    >;
    for (const field of ['email_institucional', 'teams_password', 'teams_procesado', 'moodle_procesado']) {
      expect(mapped).not.toHaveProperty(field);
    }
  });
});

describe('alumno merge', () => {
  it('creates a new alumno with the estado of the tipo', () => {
    const result = mergeAlumno(undefined, incoming(), 'aspirantes');
    expect(result.kind).toBe('create');
    expect(result.values.estado).toBe('aspirante');
    expect(result.values.nombre).toBe('VIRGINIA SOLEDAD');
    expect(result.changes.map((c) => c.field)).toContain('dni');
  });

  it('creates with nulls where SIAL sent nothing', () => {
    const result = mergeAlumno(undefined, incoming({}, null), 'preinscriptos');
    expect(result.values).toMatchObject({
      nombre: null,
      apellido: null,
      email_personal: null,
      telefono: null,
    });
  });

  it('reports unchanged when SIAL says what is stored', () => {
    const result = mergeAlumno(storedAlumno(), incoming(), 'preinscriptos');
    expect(result).toMatchObject({ kind: 'unchanged', changes: [] });
  });

  it('never blanks names or e-mail when personal data could not be fetched', () => {
    const result = mergeAlumno(storedAlumno(), incoming({}, null), 'preinscriptos');
    expect(result.kind).toBe('unchanged');
    expect(result.values).toMatchObject({
      nombre: 'VIRGINIA SOLEDAD',
      apellido: 'BRUSASCA',
      email_personal: 'virginia.brusasca@gmail.com',
    });
  });

  it('never blanks a field SIAL sent empty', () => {
    const result = mergeAlumno(
      storedAlumno(),
      incoming({}, { telefono: '', email: '  ', localidad: null }),
      'preinscriptos',
    );
    expect(result.kind).toBe('unchanged');
    expect(result.values.telefono).toBe('54-358-486-2940');
    expect(result.values.localidad).toBe('General Deheza');
  });

  it('never blanks carreras when SIAL sends an empty list', () => {
    const result = mergeAlumno(storedAlumno(), incoming({ carreras: [] }), 'preinscriptos');
    expect(result.values.carreras).toEqual(storedAlumno().carreras);
  });

  it('fills a field that was stored empty', () => {
    const result = mergeAlumno(storedAlumno({ nombre: '', telefono: null }), incoming(), 'preinscriptos');
    expect(result.kind).toBe('update');
    expect(result.changes).toEqual([
      { field: 'nombre', before: '', after: 'VIRGINIA SOLEDAD' },
      { field: 'telefono', before: null, after: '54-358-486-2940' },
    ]);
  });

  it('moves estado forward', () => {
    const result = mergeAlumno(storedAlumno({ estado: 'preinscripto' }), incoming(), 'ingresantes');
    expect(result.kind).toBe('update');
    expect(result.changes).toEqual([{ field: 'estado', before: 'preinscripto', after: 'ingresante' }]);
  });

  it('never moves estado backwards', () => {
    for (const estado of ['ingresante', 'alumno'] as const) {
      const result = mergeAlumno(storedAlumno({ estado }), incoming(), 'preinscriptos');
      expect(result.kind).toBe('unchanged');
      expect(result.values.estado).toBe(estado);
    }
  });

  it('replaces carreras whole when any part differs', () => {
    const carreras = [
      rawCarrera({ comisiones: [{ id_comision: 545, nombre_comision: 'COMISION 05' }] }),
      rawCarrera({ id_carrera: 2, nombre_carrera: 'LICENCIATURA EN ECONOMÍA' }),
    ];
    const result = mergeAlumno(storedAlumno(), incoming({ carreras }), 'preinscriptos');
    expect(result.kind).toBe('update');
    expect(result.values.carreras).toEqual(carreras);
    expect(result.changes.map((c) => c.field)).toEqual(['carreras']);
  });

  it('treats carreras with reordered keys as equal', () => {
    const [carrera] = storedAlumno().carreras!;
    const reordered = Object.fromEntries(Object.entries(carrera!).reverse());
    const result = mergeAlumno(storedAlumno(), incoming({ carreras: [reordered] }), 'preinscriptos');
    expect(result.kind).toBe('unchanged');
  });

  it('returns only the ingestion-owned fields even when given a whole entity', () => {
    const entity = { ...storedAlumno(), email_institucional: 'a30111222@unrc.edu.ar', teams_procesado: true };
    const result = mergeAlumno(entity, incoming({}, { telefono: '54-358-400-0000' }), 'preinscriptos');
    expect(result.values).not.toHaveProperty('email_institucional');
    expect(result.values).not.toHaveProperty('teams_procesado');
    expect(result.values.telefono).toBe('54-358-400-0000');
  });

  it('refuses to merge records of different people', () => {
    expect(() => mergeAlumno(storedAlumno({ dni: '1' }), incoming(), 'preinscriptos')).toThrow(
      /is not incoming/,
    );
  });
});
