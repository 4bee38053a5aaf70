import { ValidationError } from '@lucy/platform';
import { TipoEmail } from '@lucy/proto';
import { describe, expect, it } from 'vitest';
import { CURSOS_PENDIENTES, PLANTILLAS_POR_DEFECTO } from './default-templates.js';
import { type EmailVariables, TIPOS_EMAIL } from './email-kinds.js';
import {
  buildEmail,
  escapeHtml,
  plantillaPorDefecto,
  VARIABLES_DE_EJEMPLO,
  validatePlantilla,
} from './templates.js';

/** Variables of an alumno (the example values, without courses), overridable per test. */
const alumno = (overrides: Partial<EmailVariables> = {}): EmailVariables => ({
  ...VARIABLES_DE_EJEMPLO,
  cursos: undefined,
  ...overrides,
});

/** Renders a stored template (subject and body) for {@link alumno}. */
const conPlantilla = (
  tipo: TipoEmail,
  asunto: string,
  cuerpo: string,
  overrides: Partial<EmailVariables> = {},
) => buildEmail(tipo, { asunto, cuerpo }, alumno(overrides));

/** Renders the built-in template of a kind for {@link alumno}. */
const porDefecto = (tipo: TipoEmail, overrides: Partial<EmailVariables> = {}) =>
  buildEmail(tipo, undefined, alumno(overrides));

/** The ValidationError a call throws (fails the test when it does not). */
function validationError(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('built-in e-mails', () => {
  it('welcomes with the original content: greeting with DNI, Ingresantes link and the faculty footer', () => {
    const email = porDefecto(TipoEmail.BIENVENIDA);
    expect(email.subject).toBe('Bienvenido/a a la UNRC');
    expect(email.html).toContain('Bienvenida/o a la Facultad de Ciencias Económicas');
    expect(email.html).toContain('Inscripción recibida');
    expect(email.html).toContain('Estimado/a Pérez, Ana María');
    expect(email.html).toContain('(DNI: 30111222)');
    expect(email.html).toContain('href="https://www.eco.unrc.edu.ar/ingresantes/"');
    expect(email.text).toContain('Estimado/a Pérez, Ana María (DNI: 30111222)');
    expect(email.text).toContain('Ir a Ingresantes: https://www.eco.unrc.edu.ar/ingresantes/');
    expect(email.text).toContain('Secretaría de Virtualización Estratégica');
    expect(email.text).toContain('Ruta Nacional 36 Km 601');
    expect(email.text).not.toContain('<');
    expect(email.text).not.toContain('margin');
  });

  it('sends credentials with user, temporary password, first-login change, steps and support contacts', () => {
    const email = porDefecto(TipoEmail.CREDENCIALES);
    expect(email.subject).toBe('Credenciales de acceso - UNRC');
    expect(email.html).toContain('Credenciales de acceso | V.ECO (FCE)');
    expect(email.html).not.toContain('<title>Bienvenida');
    expect(email.text).toMatch(/Usuario\s+test-30111222@eco\.unrc\.edu\.ar/);
    expect(email.text).toMatch(/Contraseña temporal\s+Temporal-2468/);
    expect(email.text).toContain('el sistema te solicitará cambiar la contraseña');
    expect(email.text).toContain('1. Accedé a V.ECO desde el botón de abajo.');
    expect(email.text).toContain('2. Ingresá y seleccioná el botón MS TEAMS de la FCE.');
    expect(email.text).toContain('Accedé a V.ECO: https://v.eco.unrc.edu.ar');
    expect(email.text).toContain('v.estudiantes@fce.unrc.edu.ar');
    expect(email.text).toContain('0358 4676542');
    expect(email.text).toContain('ChatBOT FCE');
  });

  it('sends a password reset with its own template and subject, not the credentials ones', () => {
    const email = porDefecto(TipoEmail.PASSWORD_RESET);
    const credenciales = porDefecto(TipoEmail.CREDENCIALES);
    expect(email.subject).toBe('Nueva contraseña temporal - FCE UNRC');
    expect(email.subject).not.toBe(credenciales.subject);
    expect(email.html).toContain('Recuperación de acceso');
    expect(email.text).toMatch(/Nueva contraseña temporal\s+Temporal-2468/);
    expect(email.text).toContain(
      'Si no solicitaste este cambio, contactate con soporte técnico de inmediato.',
    );
  });

  it('uses the stored reset template when staff saved one', () => {
    const email = conPlantilla(
      TipoEmail.PASSWORD_RESET,
      'Tu clave nueva, {nombre}',
      'Usuario: {upn}\nClave: {password}',
    );
    expect(email.subject).toBe('Tu clave nueva, Ana María');
    expect(email.text).toBe('Usuario: test-30111222@eco.unrc.edu.ar\nClave: Temporal-2468');
  });

  it('lists the enrolled courses in the enrolment e-mail, escaped, in both parts', () => {
    const email = porDefecto(TipoEmail.ENROLAMIENTO, { cursos: ['Matemática', 'Economía <I> & II'] });
    expect(email.subject).toBe('Acceso al Ecosistema Virtual - UNRC');
    expect(email.html).toContain(
      '<ul class="list"><li>Matemática</li><li>Economía &lt;I&gt; &amp; II</li></ul>',
    );
    expect(email.text).toContain('- Matemática\n- Economía <I> & II');
    expect(email.text).toContain('Ingresar a V.ECO: https://v.eco.unrc.edu.ar');
    expect(email.text).not.toContain(CURSOS_PENDIENTES);
    expect(email.text).toContain('Cursillo de ingreso');
  });

  it('says the courses will be announced when none is known yet', () => {
    const email = porDefecto(TipoEmail.ENROLAMIENTO, { cursos: [] });
    expect(email.html).toContain(`<p><em>${CURSOS_PENDIENTES}</em></p>`);
    expect(email.text).toContain(CURSOS_PENDIENTES);
  });

  it('points the enrolment links at the configured Moodle address', () => {
    const email = porDefecto(TipoEmail.ENROLAMIENTO, { moodle_url: 'https://campus.example.edu.ar/' });
    expect(email.html).toContain('href="https://campus.example.edu.ar/"');
    expect(email.html).not.toContain('href="https://v.eco.unrc.edu.ar"');
  });

  it('every built-in template passes its own validation', () => {
    for (const tipo of TIPOS_EMAIL) {
      expect(() => validatePlantilla({ tipo, ...PLANTILLAS_POR_DEFECTO[tipo] })).not.toThrow();
      expect(plantillaPorDefecto(tipo)).toBe(PLANTILLAS_POR_DEFECTO[tipo]);
    }
  });
});

describe('rendering values', () => {
  it('escapes every value in the HTML part and keeps it verbatim in the text part and subject', () => {
    const hostile = `<script>alert("x")</script> & 'O'Brien'`;
    const email = conPlantilla(TipoEmail.CREDENCIALES, 'Hola {apellido}', '', {
      apellido: hostile,
      password: 'a<b>&"c',
    });
    expect(email.html).not.toContain('<script>');
    expect(email.html).toContain(escapeHtml(hostile));
    expect(email.html).toContain('a&lt;b&gt;&amp;&quot;c');
    expect(email.text).toContain(hostile);
    expect(email.text).toContain('a<b>&"c');
    expect(email.subject).toBe(`Hola ${hostile}`);
  });

  it('escapes values inside attributes so they cannot break out of the quotes', () => {
    const email = porDefecto(TipoEmail.ENROLAMIENTO, { moodle_url: 'https://x.edu.ar/" onclick="robar()' });
    expect(email.html).toContain('href="https://x.edu.ar/&quot; onclick=&quot;robar()"');
    expect(email.html).not.toContain('" onclick="');
  });

  it('does not expand placeholders that appear inside values', () => {
    const email = conPlantilla(
      TipoEmail.CREDENCIALES,
      'x',
      'Hola {nombre}, usuario {upn}, clave {password}',
      { nombre: '{password}' },
    );
    expect(email.text).toBe('Hola {password}, usuario test-30111222@eco.unrc.edu.ar, clave Temporal-2468');
  });

  it('keeps literal braces written doubled, as in CSS', () => {
    const email = conPlantilla(
      TipoEmail.BIENVENIDA,
      '{{Ingreso}} {nombre}',
      '<html><style>p {{ color: red }}</style><p>{nombre}</p></html>',
    );
    expect(email.subject).toBe('{Ingreso} Ana María');
    expect(email.html).toContain('p { color: red }');
    expect(email.text).toBe('Ana María');
  });

  it('trims values and folds line breaks out of the subject', () => {
    const email = conPlantilla(TipoEmail.BIENVENIDA, 'Bienvenida {apellido}', '{apellido}.', {
      apellido: '  BRUSASCA \r\nBcc: x@y.z ',
    });
    expect(email.subject).toBe('Bienvenida BRUSASCA Bcc: x@y.z');
    expect(email.subject).not.toMatch(/[\r\n]/);
  });

  it('sends a plain-text template as text, with an escaped HTML alternative', () => {
    const email = conPlantilla(TipoEmail.BIENVENIDA, 'Hola', 'Hola {nombre} <{email}>\nSaludos');
    expect(email.text).toBe('Hola Ana María <ana.perez@gmail.com>\nSaludos');
    expect(email.html).toContain('Hola Ana María &lt;ana.perez@gmail.com&gt;\nSaludos');
  });

  it('falls back to the built-in subject or body only when the stored one is empty', () => {
    const email = conPlantilla(TipoEmail.BIENVENIDA, '  ', 'Hola {nombre}');
    expect(email.subject).toBe('Bienvenido/a a la UNRC');
    expect(email.text).toBe('Hola Ana María');
  });
});

describe('missing variables', () => {
  it('refuses to build a credentials e-mail without the password, naming it', () => {
    const err = validationError(() => porDefecto(TipoEmail.CREDENCIALES, { password: undefined }));
    expect(err.fields).toEqual([
      {
        field: 'variables.password',
        message:
          'falta el valor de {password} (contraseña temporal) para el correo «Credenciales de acceso».',
      },
    ]);
    expect(err.message).toContain('No se puede armar el correo «Credenciales de acceso»');
  });

  it('treats a blank UPN as missing', () => {
    const err = validationError(() => porDefecto(TipoEmail.PASSWORD_RESET, { upn: '  ' }));
    expect(err.fields.map((f) => f.field)).toEqual(['variables.upn']);
  });

  it('names every missing variable the template uses, and only those', () => {
    const err = validationError(() =>
      buildEmail(TipoEmail.BIENVENIDA, undefined, { nombre: 'Ana', apellido: 'Pérez' }),
    );
    expect(err.fields.map((f) => f.field)).toEqual(['variables.dni']);
    expect(() =>
      buildEmail(TipoEmail.BIENVENIDA, { asunto: 'Hola', cuerpo: 'Hola {nombre}' }, { nombre: 'Ana' }),
    ).not.toThrow();
  });

  it('renders an empty optional value as empty (SIAL may lose a name)', () => {
    const email = conPlantilla(TipoEmail.BIENVENIDA, 'Hola', 'Hola {nombre}!', { nombre: '' });
    expect(email.text).toBe('Hola !');
  });

  it('refuses an unknown kind', () => {
    const err = validationError(() => porDefecto(TipoEmail.UNSPECIFIED));
    expect(err.fields[0]?.field).toBe('tipo');
    expect(err.fields[0]?.message).toContain('«Bienvenida»');
  });
});

describe('validating a template staff save', () => {
  const save = (tipo: TipoEmail, asunto: string, cuerpo: string) =>
    validationError(() => validatePlantilla({ tipo, asunto, cuerpo }));

  it('refuses a variable the kind does not provide, saying which kinds have it and what is available', () => {
    const err = save(TipoEmail.BIENVENIDA, 'Hola {nombre}', 'Tu clave es {password}');
    expect(err.fields).toEqual([
      {
        field: 'cuerpo',
        message:
          'la variable {password} no está disponible para el correo «Bienvenida» (solo existe en: Credenciales de acceso, Nueva contraseña). Variables disponibles: {nombre}, {apellido}, {dni}, {email}.',
      },
    ]);
    expect(err.message).toContain('La plantilla del correo «Bienvenida» no es válida');
  });

  it('refuses a variable no kind provides, such as the original cursos_html', () => {
    const err = save(TipoEmail.ENROLAMIENTO, 'Acceso', 'Cursos: {cursos_html}');
    expect(err.fields[0]?.message).toMatch(
      /^la variable \{cursos_html\} no está disponible para el correo «Acceso al Ecosistema Virtual»\. Variables disponibles: .*\{cursos\}/,
    );
  });

  it('refuses the password in the subject', () => {
    const err = save(TipoEmail.CREDENCIALES, 'Tu clave: {password}', 'Usuario {upn} clave {password}');
    expect(err.fields).toHaveLength(1);
    expect(err.fields[0]?.field).toBe('asunto');
    expect(err.fields[0]?.message).toContain('la variable {password} no puede usarse en el asunto');
  });

  it('requires the user and the password in the body of the credentials and reset e-mails', () => {
    for (const tipo of [TipoEmail.CREDENCIALES, TipoEmail.PASSWORD_RESET]) {
      const err = save(tipo, 'Acceso', 'Hola {nombre}, ya tenés cuenta.');
      expect(err.fields.map((f) => f.message)).toEqual([
        expect.stringContaining('debe incluir {upn}'),
        expect.stringContaining('debe incluir {password}'),
      ]);
    }
  });

  it('points at unbalanced braces and invalid placeholders with line and column', () => {
    const err = save(
      TipoEmail.BIENVENIDA,
      'Hola',
      '<html>\n<style>p { color: red }</style>\n{nombre:>10}</html>',
    );
    expect(err.fields.map((f) => f.message)).toEqual([
      expect.stringMatching(/^línea 2, columna 10: «\{ color: red \}» no es una variable válida/),
      expect.stringMatching(/^línea 3, columna 1: «\{nombre:>10\}» no es una variable válida/),
    ]);
    expect(save(TipoEmail.BIENVENIDA, 'Hola {nombre', 'x').fields[0]?.message).toContain(
      'llave «{» sin cerrar',
    );
    expect(save(TipoEmail.BIENVENIDA, 'Hola', 'a } b').fields[0]?.message).toContain('llave «}» sin abrir');
  });

  it('refuses an empty or multi-line subject and an empty body', () => {
    expect(save(TipoEmail.BIENVENIDA, ' ', 'x').fields).toEqual([
      { field: 'asunto', message: 'el asunto está vacío.' },
    ]);
    expect(save(TipoEmail.BIENVENIDA, 'a\nb', 'x').fields[0]?.message).toBe(
      'el asunto debe ocupar una sola línea.',
    );
    expect(save(TipoEmail.BIENVENIDA, 'a', '').fields).toEqual([
      { field: 'cuerpo', message: 'el cuerpo está vacío.' },
    ]);
  });

  it('returns a preview rendered with example values', () => {
    const preview = validatePlantilla({
      tipo: TipoEmail.ENROLAMIENTO,
      asunto: 'Acceso de {nombre}',
      cuerpo: '<html><body><p>{apellido}</p>{cursos}</body></html>',
    });
    expect(preview.subject).toBe(`Acceso de ${VARIABLES_DE_EJEMPLO.nombre}`);
    expect(preview.text).toBe(
      `${VARIABLES_DE_EJEMPLO.apellido}\n\n- Matemática (Ingreso)\n- Introducción a la Economía`,
    );
  });
});
