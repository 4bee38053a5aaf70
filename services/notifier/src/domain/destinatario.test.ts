import { PermanentError } from '@lucy/platform';
import { describe, expect, it } from 'vitest';
import { elegirDestinatario } from './destinatario.js';

describe('recipient choice', () => {
  it('prefers the personal address', () => {
    expect(
      elegirDestinatario({ emailPersonal: ' ana@gmail.com ', emailInstitucional: 'test-1@eco.unrc.edu.ar' }),
    ).toEqual({ email: 'ana@gmail.com', origen: 'personal' });
  });

  it('falls back to the institutional address when the personal one is empty or null', () => {
    for (const emailPersonal of ['', '   ', null, undefined]) {
      expect(elegirDestinatario({ emailPersonal, emailInstitucional: 'test-1@eco.unrc.edu.ar' })).toEqual({
        email: 'test-1@eco.unrc.edu.ar',
        origen: 'institucional',
      });
    }
  });

  it('skips a personal value that is not an address', () => {
    expect(
      elegirDestinatario({ emailPersonal: 'ana.gmail.com', emailInstitucional: 'test-1@eco.unrc.edu.ar' })
        .origen,
    ).toBe('institucional');
  });

  it('fails with a Spanish message when the alumno has no address', () => {
    let caught: unknown;
    try {
      elegirDestinatario({ emailPersonal: '', emailInstitucional: null });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PermanentError);
    expect((caught as PermanentError).code).toBe('EMAIL_SIN_DESTINATARIO');
    expect((caught as PermanentError).message).toBe(
      'No se puede enviar el correo: el alumno no tiene e-mail personal ni institucional. Cargue un e-mail personal válido y vuelva a intentarlo.',
    );
  });

  it('names the unusable addresses when there are some', () => {
    expect(() => elegirDestinatario({ emailPersonal: 'ana at gmail', emailInstitucional: '' })).toThrow(
      'sus direcciones no son válidas («ana at gmail»)',
    );
  });
});
