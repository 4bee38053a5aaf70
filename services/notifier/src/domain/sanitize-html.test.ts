import { describe, expect, it } from 'vitest';
import { sanitizeHtml } from './sanitize-html.js';

describe('html sanitising of templates', () => {
  it('removes scripts, event handlers and javascript links, and says what it removed', () => {
    const { html, avisos } = sanitizeHtml(
      '<html><body><p onclick="robar()">Hola {nombre}</p><script>alert(1)</script>' +
        '<a href="javascript:alert(2)">x</a><a href="https://a.edu">ok</a><iframe src="https://m.x"></iframe>' +
        '<img src=x OnError=alert(3)><SCRIPT src="https://m.x/a.js">',
    );
    expect(html).toBe(
      '<html><body><p>Hola {nombre}</p><a href="#">x</a><a href="https://a.edu">ok</a><img src=x>',
    );
    expect(avisos).toEqual([
      'se quitaron 2 elemento(s) <script> del HTML.',
      'se quitaron 1 elemento(s) <iframe> del HTML.',
      'se quitaron 2 atributo(s) de eventos (on…) del HTML.',
      'se reemplazaron 1 enlace(s) javascript:/data: por «#».',
    ]);
  });

  it('leaves clean templates, CSS braces and placeholders untouched', () => {
    const source =
      '<html><head><style>body {{ margin: 0 }}</style></head><body><a href="{moodle_url}">{upn}</a></body></html>';
    expect(sanitizeHtml(source)).toEqual({ html: source, avisos: [] });
  });

  it('catches obfuscated javascript URLs', () => {
    expect(sanitizeHtml('<a href=" java\tscript:alert(1)">x</a>').html).toBe('<a href="#">x</a>');
    expect(sanitizeHtml("<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>").html).toBe('<a href="#">x</a>');
  });
});
