/**
 * Removes active content from a template's HTML before it is stored: staff paste HTML from editors and old
 * e-mails, and a script in a template would run in every webmail that renders it (and in the admin's preview).
 * Removed: script, iframe, object, embed, applet, base and form elements, `on…` event attributes, and
 * `javascript:`/`vbscript:`/`data:` URLs in href/src/action attributes. What was removed comes back as Spanish
 * notices so the editor can say so. Template placeholders (`{nombre}`, `{{`) are left untouched.
 */

/** The sanitised HTML and a Spanish notice per kind of removal. */
export interface SanitizedHtml {
  readonly html: string;
  readonly avisos: readonly string[];
}

const ACTIVE_ELEMENTS = ['script', 'iframe', 'object', 'embed', 'applet', 'form', 'noscript'] as const;
const VOID_ACTIVE = ['base', 'embed'] as const;

/** Removes scripts and other active content; returns the clean HTML and what was removed. */
export function sanitizeHtml(source: string): SanitizedHtml {
  const avisos: string[] = [];
  let html = source;
  for (const tag of ACTIVE_ELEMENTS) {
    let count = 0;
    // Paired elements with their content, then any stray opening or closing tag left (unclosed <script …>).
    html = html.replace(new RegExp(`<${tag}\\b[\\s\\S]*?<\\/${tag}\\s*>`, 'gi'), () => {
      count++;
      return '';
    });
    html = html.replace(new RegExp(`<\\/?${tag}\\b[^>]*>?`, 'gi'), () => {
      count++;
      return '';
    });
    if (count > 0) avisos.push(`se quitaron ${count} elemento(s) <${tag}> del HTML.`);
  }
  for (const tag of VOID_ACTIVE) {
    let count = 0;
    html = html.replace(new RegExp(`<${tag}\\b[^>]*>`, 'gi'), () => {
      count++;
      return '';
    });
    if (count > 0) avisos.push(`se quitaron ${count} elemento(s) <${tag}> del HTML.`);
  }
  let handlers = 0;
  let urls = 0;
  html = html.replace(
    /<([a-zA-Z][a-zA-Z0-9-]*)(\s[^>]*)?>/g,
    (whole, name: string, attrs: string | undefined) => {
      if (!attrs) return whole;
      let changed = attrs.replace(/\s+on[a-z]+\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)/gi, () => {
        handlers++;
        return '';
      });
      changed = changed.replace(
        /(\s(?:href|src|action|formaction|xlink:href|background)\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)/gi,
        (attr, prefix: string, value: string) => {
          const bare = value
            .replace(/^["']|["']$/g, '')
            .replace(/\s+/g, '')
            // eslint-disable-next-line no-control-regex -- control characters hide a scheme from naive checks
            .replace(/[\u0000-\u001f]+/g, '')
            .toLowerCase();
          if (/^(javascript|vbscript|data):/.test(bare)) {
            urls++;
            return `${prefix}"#"`;
          }
          return attr;
        },
      );
      return changed === attrs ? whole : `<${name}${changed}>`;
    },
  );
  if (handlers > 0) avisos.push(`se quitaron ${handlers} atributo(s) de eventos (on…) del HTML.`);
  if (urls > 0) avisos.push(`se reemplazaron ${urls} enlace(s) javascript:/data: por «#».`);
  return { html, avisos };
}
