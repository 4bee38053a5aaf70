import { describe, expect, it } from 'vitest';
import { htmlToText } from './html-to-text.js';

describe('html to text', () => {
  it('drops head and style, breaks blocks into lines and numbers ordered lists', () => {
    const html =
      '<!DOCTYPE html><html><head><title>T</title><style>p { x: 1 }</style></head><body>' +
      '<h1>Título</h1><p>Uno   dos\n tres</p><ol><li>a</li><li>b</li></ol><ul><li>c</li></ul>x<br/>y</body></html>';
    expect(htmlToText(html)).toBe('Título\n\nUno dos tres\n\n1. a\n2. b\n\n- c\nx\ny');
  });

  it('shows link addresses once, and not when the text already is the address', () => {
    expect(htmlToText('<a href="https://a.edu/x">Ir</a>')).toBe('Ir: https://a.edu/x');
    expect(htmlToText('<a href="https://a.edu/">a.edu</a>')).toBe('a.edu');
    expect(htmlToText('<a href="mailto:s@a.edu">s@a.edu</a>')).toBe('s@a.edu');
  });

  it('decodes character references after removing tags, so escaped values survive', () => {
    expect(htmlToText('<p>&lt;b&gt; &amp; &#39;x&#39; &#x263A; &nbsp;ok</p>')).toBe("<b> & 'x' ☺ ok");
  });
});
