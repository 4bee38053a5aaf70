import { describe, expect, it } from 'vitest';
import {
  cuentaCoincide,
  idsPorCuenta,
  MAX_IDS_CUENTA,
  parseFiltros,
  toFilter,
  type CuentaFiltro,
  type CuentaView,
} from './alumnos.js';

const id = (n: number) => `01a24fa3-0000-7000-8000-${String(n).padStart(12, '0')}`;
const cuenta = (estado: string, upn = 'test-a1@x.edu.ar'): CuentaView => ({
  upn,
  estado,
  licencia: true,
  licenciaSku: '',
  moodleUsername: '',
  tienePasswordTemporal: true,
  emailSolicitado: true,
  emailEnviado: false,
  creadaEn: null,
  activadaEn: null,
  eliminadaEn: null,
  ultimoError: '',
});
describe('the account-state filter', () => {
  const c = (over: Partial<CuentaView>): CuentaView => ({ ...cuenta('activa'), ...over });
  it('says the furthest step each account reached', () => {
    const creada = c({ estado: 'pendiente', licencia: false, emailEnviado: false });
    const licencia = c({ estado: 'pendiente', licencia: true, emailEnviado: false });
    const email = c({ estado: 'activa', licencia: true, emailEnviado: true });
    const error = c({ estado: 'fallida', ultimoError: 'Graph 503' });
    const eliminada = c({ estado: 'eliminada', licencia: true, emailEnviado: true });
    const all = { creada, licencia, email, error, eliminada };
    const match = (f: CuentaFiltro) =>
      Object.entries(all)
        .filter(([, v]) => cuentaCoincide(f, v))
        .map(([k]) => k);
    expect(match('creada')).toEqual(['creada']);
    expect(match('licencia')).toEqual(['licencia']);
    expect(match('email')).toEqual(['email']);
    expect(match('error')).toEqual(['error']);
  });

  it('reads identity-teams page by page and stops at the most ids ingest-sial lists', async () => {
    const pages = [0, 1, 2].map((p) => ({
      cuentas: Array.from({ length: 300 }, (_, i) => c({ emailEnviado: (p * 300 + i) % 2 === 0 })),
      alumnoIds: Array.from({ length: 300 }, (_, i) => id(p * 300 + i)),
      next: p < 2 ? String((p + 1) * 300) : '',
    }));
    const asked: string[] = [];
    const page = (token: string, estado: string) => {
      asked.push(`${token}|${estado}`);
      return Promise.resolve(pages[token ? Number(token) / 300 : 0]!);
    };
    const r = await idsPorCuenta('email', page);
    expect(r).toMatchObject({ cortado: false });
    expect(r.ids).toHaveLength(450);
    expect(r.ids[1]).toBe(id(2));
    expect(asked).toEqual(['|', '300|', '600|']);
    const more = await idsPorCuenta('creada', page);
    expect(more.ids).toHaveLength(0);
    const err = await idsPorCuenta('error', page);
    expect(asked.at(-1)).toBe('600|fallida');
    expect(err.ids).toHaveLength(0);
    // 900 matches: the first 500, and it says so.
    const cortado = await idsPorCuenta('email', (t) =>
      Promise.resolve({
        ...pages[t ? Number(t) / 300 : 0]!,
        cuentas: pages[0]!.cuentas.map(() => c({ emailEnviado: true })),
      }),
    );
    expect(cortado.ids).toHaveLength(MAX_IDS_CUENTA);
    expect(cortado.cortado).toBe(true);
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

  it('an account state identity-teams keeps is not sent to ingest-sial as institutional e-mail', () => {
    const f = parseFiltros(new URLSearchParams('cuenta=licencia'));
    expect(f.cuenta).toBe('licencia');
    expect(toFilter(f, [id(1)])).not.toHaveProperty('conEmailInstitucional');
    expect(parseFiltros(new URLSearchParams('cuenta=otra')).cuenta).toBe('');
  });
});
