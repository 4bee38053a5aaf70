import { describe, expect, it } from 'vitest';
import {
  AccountNameError,
  buildDisplayName,
  buildMailNickname,
  buildUpn,
  foldAccents,
  normalizeDni,
} from './account-names.js';

describe('normalizeDni', () => {
  it('drops dots, spaces and leading zeros of a numeric document', () => {
    expect(normalizeDni('40.111.222')).toBe('40111222');
    expect(normalizeDni(' 040111222 ')).toBe('40111222');
    expect(normalizeDni(40111222)).toBe('40111222');
  });

  it('keeps letters of a foreign document, lower case', () => {
    expect(normalizeDni('AB12345')).toBe('ab12345');
  });

  it('refuses zero, empty and other characters', () => {
    for (const bad of ['0', '000', '', '40-111-222', 'ñ123', '1'.repeat(21)]) {
      expect(() => normalizeDni(bad), bad).toThrow(AccountNameError);
    }
  });
});

describe('buildUpn', () => {
  it('joins prefix, DNI and domain in lower case', () => {
    expect(buildUpn({ prefix: 'Test-A', dni: '40.111.222', domain: 'ECO.unrc.edu.ar ' })).toBe(
      'test-a40111222@eco.unrc.edu.ar',
    );
    expect(buildUpn({ prefix: '', dni: 40111222, domain: 'eco.unrc.edu.ar' })).toBe(
      '40111222@eco.unrc.edu.ar',
    );
  });

  it('refuses a prefix with accents or characters Entra does not allow', () => {
    for (const prefix of ['alumnó-', 'a b', 'a@', 'a/']) {
      const err = (() => {
        try {
          buildUpn({ prefix, dni: '1', domain: 'eco.unrc.edu.ar' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, prefix).toBeInstanceOf(AccountNameError);
      expect((err as AccountNameError).field).toBe('prefix');
    }
  });

  it('refuses a local part starting with a dot, with two dots, or longer than 64', () => {
    expect(() => buildUpn({ prefix: '.a', dni: '1', domain: 'x.edu' })).toThrow(/no puede empezar con punto/);
    expect(() => buildUpn({ prefix: 'a..', dni: '1', domain: 'x.edu' })).toThrow(AccountNameError);
    expect(() => buildUpn({ prefix: 'a'.repeat(60), dni: '12345', domain: 'x.edu' })).toThrow(/64/);
    expect(buildUpn({ prefix: 'a'.repeat(59), dni: '12345', domain: 'x.edu' })).toHaveLength(64 + 6);
  });

  it('refuses a malformed domain', () => {
    for (const domain of ['', 'localhost', 'eco..edu.ar', '-eco.edu.ar', 'eco.edu.ar/x']) {
      expect(() => buildUpn({ prefix: 'a', dni: '1', domain }), domain).toThrow(/dominio/);
    }
  });
});

describe('display name and mail nickname', () => {
  it('shows «Apellido, Nombre» with accents, collapsing spaces', () => {
    expect(buildDisplayName('  María   José ', 'Pérez  García')).toBe('Pérez García, María José');
    expect(buildDisplayName('', 'Núñez')).toBe('Núñez');
    expect(() => buildDisplayName(' ', '')).toThrow(AccountNameError);
  });

  it('builds an ASCII nickname from the first name, the surnames and the DNI', () => {
    expect(buildMailNickname('María José', 'Pérez García', '40.111.222')).toBe('maria.perez.garcia.40111222');
    expect(buildMailNickname('Ñandú', "D'Alessandro", 1)).toBe('nandu.d.alessandro.1');
    expect(buildMailNickname('李', '王', '5')).toBe('5');
  });

  it('keeps the nickname within 64 characters, the DNI intact', () => {
    const nick = buildMailNickname('Maximiliano', 'De la Santísima Trinidad '.repeat(5), '40111222');
    expect(nick.length).toBeLessThanOrEqual(64);
    expect(nick).toMatch(/^maximiliano\.de\.la\.[a-z.]+[a-z]\.40111222$/);
    expect(nick).not.toContain('..');
  });

  it('folds accents but keeps the letters', () => {
    expect(foldAccents('Áéíóú Ññ Üü')).toBe('Aeiou Nn Uu');
  });
});
