/**
 * The placeholder syntax of e-mail templates, compatible with the templates staff wrote for the original system
 * (Python `str.format` with named fields): `{nombre}` is a variable, `{{` and `}}` are literal braces (so CSS
 * blocks are written `body {{ margin: 0 }}`). Unlike `str.format`, attribute access, indexes, conversions and
 * format specs are refused with a message naming the position.
 */

/** A piece of a parsed template. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string; readonly offset: number };

/** A syntax problem, in Spanish, with the 1-based line and column where it is. */
export interface TemplateSyntaxIssue {
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/** The result of {@link parseTemplate}. */
export interface ParsedTemplate {
  readonly parts: readonly TemplatePart[];
  readonly issues: readonly TemplateSyntaxIssue[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SNIPPET_MAX = 40;

function position(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return { line, column };
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > SNIPPET_MAX ? `${flat.slice(0, SNIPPET_MAX)}…` : flat;
}

/** Splits a template into literal text and variables, collecting every syntax problem. */
export function parseTemplate(source: string): ParsedTemplate {
  const parts: TemplatePart[] = [];
  const issues: TemplateSyntaxIssue[] = [];
  let text = '';
  let i = 0;
  const issue = (offset: number, message: string): void => {
    issues.push({ message, ...position(source, offset) });
  };
  while (i < source.length) {
    const ch = source[i];
    if (ch === '{' && source[i + 1] === '{') {
      text += '{';
      i += 2;
    } else if (ch === '}' && source[i + 1] === '}') {
      text += '}';
      i += 2;
    } else if (ch === '}') {
      issue(i, 'hay una llave «}» sin abrir; para escribir una llave literal use «}}»');
      text += '}';
      i += 1;
    } else if (ch === '{') {
      const close = source.indexOf('}', i + 1);
      const nextOpen = source.indexOf('{', i + 1);
      if (close === -1 || (nextOpen !== -1 && nextOpen < close)) {
        issue(i, 'hay una llave «{» sin cerrar; para escribir una llave literal use «{{»');
        text += '{';
        i += 1;
        continue;
      }
      const inner = source.slice(i + 1, close);
      const name = inner.trim();
      if (!VARIABLE_NAME.test(name) || name !== inner) {
        issue(
          i,
          `«{${snippet(inner)}}» no es una variable válida: use nombres como {nombre}; para llaves literales (por ejemplo en CSS) escriba «{{» y «}}»`,
        );
      } else {
        if (text !== '') parts.push({ kind: 'text', text });
        text = '';
        parts.push({ kind: 'variable', name, offset: i });
      }
      i = close + 1;
    } else {
      text += ch;
      i += 1;
    }
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return { parts, issues };
}

/** Names of the variables a parsed template uses, in order of first use. */
export function variablesOf(parsed: ParsedTemplate): string[] {
  const seen = new Set<string>();
  for (const part of parsed.parts) if (part.kind === 'variable') seen.add(part.name);
  return [...seen];
}
