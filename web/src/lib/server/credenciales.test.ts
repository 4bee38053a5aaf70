import { describe, expect, it } from 'vitest';
import {
  auditoria,
  campoDePagina,
  estadoSecreto,
  leerCredenciales,
  queReemplaza,
  serviciosPedidos,
} from './credenciales.js';

const form = (fields: Record<string, string>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
};
const enUso = { sialUsuario: 'usuario', smtpUsuario: '' };

describe('estadoSecreto', () => {
  it('says whether a secret is set and where it comes from, never more', () => {
    expect(estadoSecreto(true, 'personal')).toBe('configurado (guardado en Lucy)');
    expect(estadoSecreto(true, 'despliegue')).toBe('configurado (despliegue)');
    expect(estadoSecreto(false, '')).toBe('sin configurar');
    expect(estadoSecreto(false, 'despliegue')).toBe('sin configurar');
    expect(estadoSecreto(true, '')).toBe('configurado');
  });
});

describe('leerCredenciales', () => {
  it('asks nothing of any service when every secret is left empty', () => {
    const f = leerCredenciales(form({ sial_usuario: 'usuario', smtp_usuario: '' }), enUso);
    expect(f.cambios).toEqual({});
    expect(f.problemas).toEqual({});
    expect(serviciosPedidos(f)).toEqual([]);
  });

  it('takes each secret typed as is, one change per service', () => {
    const f = leerCredenciales(
      form({
        graph_client_secret: 'g~secreto',
        moodle_token: 'tok',
        sial_usuario: ' usuario2 ',
        sial_password: ' con espacios ',
        smtp_usuario: 'lucy',
        smtp_password: 'clave',
      }),
      enUso,
    );
    expect(f.problemas).toEqual({});
    expect(f.cambios).toEqual({
      identity: { graphClientSecret: 'g~secreto', moodleToken: 'tok' },
      sial: { usuario: 'usuario2', password: ' con espacios ' },
      smtp: { usuario: 'lucy', password: 'clave' },
    });
    expect(serviciosPedidos(f)).toEqual(['identity', 'sial', 'smtp']);
    expect(f.usuarios).toEqual({ sial_usuario: 'usuario2', smtp_usuario: 'lucy' });
  });

  it('replaces a user and its password together, naming the missing one', () => {
    const sinUsuario = leerCredenciales(form({ smtp_usuario: '', smtp_password: 'clave' }), enUso);
    expect(sinUsuario.cambios.smtp).toBeUndefined();
    expect(sinUsuario.problemas.smtp).toEqual([
      { field: 'smtp_usuario', message: 'Escriba el usuario SMTP junto con la contraseña nueva.' },
    ]);
    const sinPassword = leerCredenciales(form({ sial_usuario: 'otro', sial_password: '' }), enUso);
    expect(sinPassword.cambios.sial).toBeUndefined();
    expect(sinPassword.problemas.sial?.[0]).toMatchObject({ field: 'sial_password' });
    expect(sinPassword.problemas.sial?.[0]?.message).toContain('escriba también su contraseña');
    expect(serviciosPedidos(sinPassword)).toEqual(['sial']);
    // The user shown (the one in use) with no password is no change.
    expect(leerCredenciales(form({ sial_usuario: 'usuario' }), enUso).problemas).toEqual({});
  });

  it('refuses a value longer than the service keeps instead of cutting it', () => {
    const f = leerCredenciales(form({ graph_client_secret: 'x'.repeat(501), moodle_token: 'ok' }), enUso);
    expect(f.cambios.identity).toBeUndefined();
    expect(f.problemas.identity).toEqual([
      {
        field: 'graph_client_secret',
        message: 'El secreto de cliente de Graph admite hasta 500 caracteres.',
      },
    ]);
  });
});

describe('campoDePagina', () => {
  it('names a refused field as the page does, whatever the service calls it', () => {
    expect(campoDePagina('identity', 'graph_client_secret')).toBe('graph_client_secret');
    expect(campoDePagina('identity', 'moodleToken')).toBe('moodle_token');
    expect(campoDePagina('identity', 'requested_by')).toBe('requested_by');
    expect(campoDePagina('sial', 'sialPassword')).toBe('sial_password');
    expect(campoDePagina('sial', 'sial_usuario')).toBe('sial_usuario');
    expect(campoDePagina('smtp', 'usuario')).toBe('smtp_usuario');
    expect(campoDePagina('smtp', 'password')).toBe('smtp_password');
  });
});

describe('auditoria / queReemplaza', () => {
  it('records which secrets were replaced, never their values', () => {
    const c = {
      identity: { graphClientSecret: 'g-secreto' },
      sial: { usuario: 'usuario2', password: 's-secreto' },
      smtp: { usuario: 'lucy', password: 'm-secreto' },
    };
    const all = JSON.stringify([auditoria('identity', c), auditoria('sial', c), auditoria('smtp', c)]);
    expect(all).not.toMatch(/secreto/);
    expect(auditoria('identity', c)).toEqual({ graph_client_secret: 'reemplazado' });
    expect(auditoria('sial', c)).toEqual({ sial_usuario: 'usuario2', sial_password: 'reemplazado' });
    expect(auditoria('smtp', c)).toEqual({ smtp_usuario: 'lucy', smtp_password: 'reemplazado' });
    expect(queReemplaza('identity', c)).toEqual(['secreto de cliente de Graph']);
    expect(queReemplaza('sial', c)).toEqual(['usuario y contraseña de SIAL']);
  });
});
