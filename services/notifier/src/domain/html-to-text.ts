/**
 * The plain-text alternative of an HTML e-mail: headings and paragraphs on their own lines, list items with
 * "- " or their number, links as "text: address", no head, style or script. Good enough for the e-mails we
 * render (no tables of data, no <pre>), and for clients that show only text.
 */

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  middot: '·',
  ndash: '–',
  mdash: '—',
  aacute: 'á',
  eacute: 'é',
  iacute: 'í',
  oacute: 'ó',
  uacute: 'ú',
  ntilde: 'ñ',
  Aacute: 'Á',
  Eacute: 'É',
  Iacute: 'Í',
  Oacute: 'Ó',
  Uacute: 'Ú',
  Ntilde: 'Ñ',
  uuml: 'ü',
  iexcl: '¡',
  iquest: '¿',
};

/** Decodes the character references of HTML text (named ones we write, and every numeric one). */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return safeCodePoint(parseInt(ref.slice(2), 16), whole);
    if (ref.startsWith('#')) return safeCodePoint(parseInt(ref.slice(1), 10), whole);
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

function safeCodePoint(code: number, fallback: string): string {
  try {
    return String.fromCodePoint(code);
  } catch {
    return fallback;
  }
}

const BLOCK = new Set([
  'p',
  'div',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'ul',
  'ol',
  'table',
  'tr',
  'header',
  'footer',
  'section',
  'article',
  'blockquote',
  'hr',
]);

function attribute(attrs: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(attrs);
  if (!match) return undefined;
  return decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
}

// A link whose text already shows its address (with or without scheme or trailing slash) is not repeated.
const bare = (value: string): string =>
  value
    .replace(/^(https?:\/\/|mailto:)/i, '')
    .replace(/\/$/, '')
    .toLowerCase();

/** Converts an HTML document to readable plain text. */
export function htmlToText(html: string): string {
  const source = html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<(head|style|script|title)\b[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<!doctype[^>]*>/gi, '')
    // HTML collapses whitespace; line breaks come only from the markup below.
    .replace(/\s+/g, ' ');

  let out = '';
  const lists: { ordered: boolean; next: number }[] = [];
  const links: { href: string | undefined; start: number }[] = [];
  const tag = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g;
  let last = 0;
  for (let match = tag.exec(source); match !== null; match = tag.exec(source)) {
    out += decodeEntities(source.slice(last, match.index));
    last = tag.lastIndex;
    const closing = match[1] === '/';
    const name = (match[2] ?? '').toLowerCase();
    const attrs = match[3] ?? '';
    if (name === 'br') {
      out += '\n';
    } else if (name === 'li' && !closing) {
      const list = lists[lists.length - 1];
      const marker = list?.ordered ? `${list.next++}. ` : '- ';
      out += `\n${marker}`;
    } else if (name === 'ul' || name === 'ol') {
      if (closing) lists.pop();
      else lists.push({ ordered: name === 'ol', next: 1 });
      out += '\n';
    } else if (name === 'a') {
      if (!closing) {
        links.push({ href: attribute(attrs, 'href'), start: out.length });
      } else {
        const link = links.pop();
        const label = link ? out.slice(link.start).trim() : '';
        const href = link?.href?.trim();
        if (href && !href.startsWith('#')) {
          const shown = href.replace(/^mailto:/i, '');
          if (bare(label) !== bare(shown)) out += label === '' ? shown : `: ${shown}`;
        }
      }
    } else if (BLOCK.has(name)) {
      out += name.startsWith('h') && name !== 'hr' && closing ? '\n\n' : '\n';
    }
  }
  out += decodeEntities(source.slice(last));

  return out
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
