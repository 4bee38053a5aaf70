/**
 * The mapping of pylucy's Configuración for `lucy adoptar pylucy` (no services): which windows, flags and
 * checkpoints go to ingest-sial, which subjects and templates to the notifier, and that the report of the rest
 * carries no secret.
 */
import { describe, expect, it } from 'vitest';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { TipoEmail, TipoIngesta } from '@lucy/proto';
import { plantillasDe, ventanasDe } from '../src/commands/adoptar-pylucy.js';
import { configReport, emptyReport, renderReport } from '../src/commands/adoptar-report.js';

const t = (iso: string) => new Date(iso);

const ROW: Record<string, unknown> = {
  preinscriptos_dia_inicio: t('2026-10-01T03:00:00Z'),
  preinscriptos_dia_fin: null,
  preinscriptos_enviar_email: true,
  preinscriptos_activar_teams: true,
  preinscriptos_activar_moodle: true,
  ultima_ingesta_preinscriptos: t('2026-12-06T10:00:00Z'),
  aspirantes_dia_inicio: t('2026-11-01T03:00:00Z'),
  aspirantes_dia_fin: t('2027-01-15T03:00:00Z'),
  aspirantes_enviar_email: false,
  aspirantes_activar_teams: true,
  aspirantes_activar_moodle: false,
  ultima_ingesta_aspirantes: t('2026-12-07T09:00:00Z'),
  aspirantes_forzar_carga_completa: true,
  ingresantes_dia_inicio: null,
  ingresantes_dia_fin: null,
  ingresantes_enviar_email: false,
  ingresantes_activar_teams: false,
  ingresantes_activar_moodle: false,
  ultima_ingesta_ingresantes: null,
  batch_size: 20,
  rate_limit_teams: 10,
  rate_limit_moodle: 30,
  account_prefix: 'a',
  teams_tenant_id: 'tenant',
  teams_client_id: 'client',
  teams_client_secret__estado: 'configurado',
  sial_basic_pass__estado: 'marcador',
  moodle_wstoken__estado: 'vacio',
  email_asunto_bienvenida: 'Bienvenido/a {nombre}',
  email_plantilla_bienvenida: '<html><body>Hola {nombre}</body></html>',
  email_asunto_credenciales: 'Credenciales de acceso - UNRC',
  email_plantilla_credenciales: '',
  email_asunto_enrollamiento: null,
  email_plantilla_enrollamiento: '',
  email_asunto_password: 'Nueva contraseña - UNRC',
  email_plantilla_password: 'nunca usada {password}',
};

describe('adoptar pylucy: Configuración', () => {
  it('maps windows, flags and checkpoints per tipo', () => {
    const [pre, asp, ing] = ventanasDe(ROW);
    expect(pre).toMatchObject({ tipo: TipoIngesta.PREINSCRIPTOS, enviarEmail: true });
    // pylucy never read the preinscriptos' Teams and Moodle flags: they go as what pylucy did.
    expect(pre).toMatchObject({ activarTeams: false, activarMoodle: false });
    expect(timestampDate(pre!.ultimaIngesta as never).toISOString()).toBe('2026-12-06T10:00:00.000Z');
    expect(asp).toMatchObject({ tipo: TipoIngesta.ASPIRANTES, activarTeams: true, enviarEmail: false });
    expect(timestampDate(asp!.diaFin as never).toISOString()).toBe('2027-01-15T03:00:00.000Z');
    // A pending «forzar carga completa»: no checkpoint, the next run starts from the window.
    expect(asp!.ultimaIngesta).toBeUndefined();
    expect(ing).toMatchObject({ tipo: TipoIngesta.INGRESANTES });
    expect(ing!.diaInicio).toBeUndefined();
  });

  it('takes the subjects and templates pylucy used, and only those', () => {
    const p = plantillasDe(ROW);
    expect(p.map((x) => x.tipo)).toEqual([TipoEmail.BIENVENIDA, TipoEmail.CREDENCIALES]);
    expect(p[0]).toMatchObject({
      asunto: 'Bienvenido/a {nombre}',
      cuerpo: '<html><body>Hola {nombre}</body></html>',
    });
    // An empty body with a subject: the subject only (the body stays the notifier's).
    expect(p[1]).toMatchObject({ asunto: 'Credenciales de acceso - UNRC', cuerpo: '' });
    expect(p.some((x) => x.tipo === TipoEmail.PASSWORD_RESET)).toBe(false);
  });

  it('reports deployment settings, ignored fields and the secrets to re-enter, never a secret', () => {
    const c = configReport(ROW);
    expect(c.secretos.map((s) => [s.campo, s.estado])).toEqual([
      ['teams_client_secret', 'configurado en pylucy'],
      ['sial_basic_pass', 'marcador de ejemplo en pylucy (no configurado)'],
      ['moodle_wstoken', 'vacío en pylucy'],
      ['EMAIL_HOST_PASSWORD (entorno de pylucy)', 'no está en la base: revíselo en el .env de pylucy'],
    ]);
    expect(c.despliegue.find((d) => d.campo === 'rate_limit_teams')).toMatchObject({
      valor: '10/min',
      destino: expect.stringMatching(/GRAPH_WRITES_PER_WINDOW/) as unknown,
    });
    // Batch size and prefix are identity-teams' own settings now: imported, not reported as deployment ones.
    expect(c.despliegue.map((d) => d.campo)).not.toEqual(expect.arrayContaining(['batch_size']));
    expect(c.despliegue.map((d) => d.campo)).not.toEqual(expect.arrayContaining(['account_prefix']));
    const ignorados = c.ignorado.map((i) => i.campo);
    expect(ignorados).toEqual(
      expect.arrayContaining([
        'preinscriptos_frecuencia_segundos',
        'aspirantes_frecuencia_segundos',
        'ingresantes_frecuencia_segundos',
        'rate_limit_uti',
        'email_usar_microsoft_graph',
      ]),
    );
    for (const i of c.ignorado) expect(i.motivo.length).toBeGreaterThan(10);
    expect(c.otros.join('\n')).toMatch(/aspirantes_forzar_carga_completa/);

    const report = { ...emptyReport('simulacion', 90), configuracion: c };
    const text = renderReport(report);
    expect(text).toMatch(/GRAPH_CLIENT_SECRET de identity-teams/);
    expect(text).toMatch(/Configuración de despliegue/);
    expect(text).not.toMatch(/nunca usada/);
  });
});
