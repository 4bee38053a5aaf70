import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { TipoIngesta, VentanaIngestaSchema } from '@lucy/proto';
import {
  motivoNoEliminable,
  parseFiltros,
  preChecks,
  toFilter,
  type AlumnoView,
  type CuentaView,
} from './alumnos.js';

const id = (n: number) => `01a24fa3-0000-7000-8000-${String(n).padStart(12, '0')}`;
function alumno(n: number, over: Partial<AlumnoView> = {}): AlumnoView {
  return {
    id: id(n),
    tipoDocumento: 'DNI',
    dni: `4000000${n}`,
    nombre: 'Ana',
    apellido: `Pérez ${n}`,
    emailPersonal: `ana${n}@example.com`,
    emailInstitucional: '',
    fechaNacimiento: '',
    cohorte: 2026,
    localidad: '',
    telefono: '',
    estado: 'aspirante',
    fechaIngreso: '',
    estadoIngreso: '',
    modalidad: '1',
    carreras: [],
    teams: false,
    moodle: false,
    emailEnviado: false,
    createdAt: null,
    updatedAt: null,
    ...over,
  };
}
const cuenta = (estado: string, upn = 'test-a1@x.edu.ar'): CuentaView => ({
  upn,
  estado,
  licencia: true,
  licenciaSku: '',
  moodleUsername: '',
  tienePasswordTemporal: true,
  emailSolicitado: true,
  creadaEn: null,
  activadaEn: null,
  eliminadaEn: null,
  ultimoError: '',
});
const ventana = (tipo: TipoIngesta, activarTeams: boolean, enviarEmail: boolean) =>
  create(VentanaIngestaSchema, { tipo, activarTeams, enviarEmail });

describe('preChecks', () => {
  const alumnos = new Map([
    [id(1), alumno(1)],
    [id(2), alumno(2, { emailPersonal: '' })],
    [id(3), alumno(3)],
    [id(4), alumno(4, { estado: 'preinscripto' })],
  ]);
  const cuentas = new Map([[id(3), cuenta('activa')]]);
  const ventanas = [ventana(TipoIngesta.ASPIRANTES, true, true)];

  it('rejects an alumno without e-mail and omits an active account unless forced', () => {
    const r = preChecks('activar', [id(1), id(2), id(3), id(4), id(9)], alumnos, cuentas, ventanas, false);
    expect(r.map((c) => c.estado)).toEqual(['programada', 'rechazado', 'omitido', 'rechazado', 'rechazado']);
    expect(r[1]!.motivo).toContain('Sin e-mail');
    expect(r[2]!.motivo).toContain('forzar');
    expect(preChecks('activar', [id(3)], alumnos, cuentas, ventanas, true)[0]!.estado).toBe('programada');
  });

  it('follows the tipo flags: Teams off omits, e-mail off lets an alumno without e-mail through', () => {
    expect(
      preChecks(
        'activar',
        [id(1)],
        alumnos,
        cuentas,
        [ventana(TipoIngesta.ASPIRANTES, false, true)],
        false,
      )[0],
    ).toMatchObject({ estado: 'omitido' });
    expect(
      preChecks(
        'activar',
        [id(2)],
        alumnos,
        cuentas,
        [ventana(TipoIngesta.ASPIRANTES, true, false)],
        false,
      )[0],
    ).toMatchObject({ estado: 'programada' });
    // «Crear usuario (sin email)» needs no e-mail.
    expect(preChecks('crear', [id(2)], alumnos, cuentas, ventanas, false)[0]!.estado).toBe('programada');
  });

  it('resets only an existing account', () => {
    expect(preChecks('resetear', [id(1)], alumnos, cuentas, ventanas, false)[0]!.estado).toBe('rechazado');
    expect(preChecks('resetear', [id(3)], alumnos, cuentas, ventanas, false)[0]!.estado).toBe('programada');
  });
});

describe('motivoNoEliminable', () => {
  it('allows only UPNs with the safe prefix, and nothing without a prefix', () => {
    expect(motivoNoEliminable('test-a1@x.edu.ar', 'test-')).toBeUndefined();
    expect(motivoNoEliminable('', 'test-')).toBeUndefined();
    expect(motivoNoEliminable('a1@x.edu.ar', 'test-')).toContain('«test-»');
    expect(motivoNoEliminable('test-a1@x.edu.ar', '')).toContain('no hay un prefijo');
  });
});

describe('parseFiltros / toFilter', () => {
  it('keeps the valid filters and drops the rest', () => {
    const f = parseFiltros(
      new URLSearchParams(
        'q= 4012 &estado=aspirante&estado=nada&carrera=12&cohorte=20x6&email=sin&cuenta=con&n=5',
      ),
    );
    expect(f).toMatchObject({
      q: '4012',
      estados: ['aspirante'],
      carrera: '12',
      cohorte: '',
      email: 'sin',
      n: 10,
    });
    const filter = toFilter(f);
    expect(filter).toMatchObject({
      idCarrera: 12n,
      conAlgunEmail: false,
      conEmailInstitucional: true,
      search: '4012',
    });
  });
});
