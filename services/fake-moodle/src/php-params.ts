/**
 * PHP request-variable parsing, as `$_GET` / `$_POST` see a form-encoded body: `users[0][username]=x` becomes a
 * nested array. PHP arrays keep insertion order (Moodle iterates `users[]` in the order the client sent them), so
 * they are modelled as `Map`s rather than objects, whose integer-like keys JavaScript would reorder.
 */

/** A PHP request value: a string, or an ordered array of them. */
export type PhpValue = string | PhpArray;
/** A PHP array with its keys in insertion order. */
export type PhpArray = Map<string, PhpValue>;

/** PHP's next free integer key: one past the largest integer key, or 0. */
function nextIndex(array: PhpArray): string {
  let max = -1;
  for (const key of array.keys()) {
    if (/^(0|-?[1-9]\d*)$/.test(key)) max = Math.max(max, Number(key));
  }
  return String(max + 1);
}

/** Splits `users[0][username]` into `['users', '0', 'username']`; `a[]` gives an empty segment (append). */
function splitName(raw: string): string[] {
  const name = raw.replace(/^ +/, '');
  const open = name.indexOf('[');
  // PHP turns spaces and dots of the base name into underscores.
  const base = (open === -1 ? name : name.slice(0, open)).replace(/[ .]/g, '_');
  if (open === -1) return [base];
  const segments = [base];
  let rest = name.slice(open);
  while (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) break;
    segments.push(rest.slice(1, close));
    rest = rest.slice(close + 1);
  }
  return segments;
}

/** Sets one `name=value` pair on `target` the way PHP builds `$_POST`. */
export function setPhpParam(target: PhpArray, name: string, value: string): void {
  const segments = splitName(name);
  if (segments[0] === '') return;
  let node = target;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const key = segment === '' && i > 0 ? nextIndex(node) : segment;
    if (i === segments.length - 1) {
      node.set(key, value);
      return;
    }
    let child = node.get(key);
    if (!(child instanceof Map)) {
      // A later `a[x]` replaces an earlier scalar `a`, as in PHP.
      child = new Map();
      node.set(key, child);
    }
    node = child;
  }
}

/** Parses an `application/x-www-form-urlencoded` string into PHP request variables. */
export function parsePhpForm(form: string, into: PhpArray = new Map()): PhpArray {
  for (const [name, value] of new URLSearchParams(form)) setPhpParam(into, name, value);
  return into;
}

/** `array_merge($_GET, $_POST)`: top-level keys of `post` win. */
export function mergePhpArrays(get: PhpArray, post: PhpArray): PhpArray {
  const merged: PhpArray = new Map(get);
  for (const [key, value] of post) merged.set(key, value);
  return merged;
}

/** PHP's `print_r` of a request value, as Moodle quotes bad values in its messages. */
export function phpPrintR(value: unknown, indent = ''): string {
  if (value instanceof Map) {
    const inner = [...(value as Map<string, unknown>)]
      .map(([k, v]) => `${indent}    [${k}] => ${phpPrintR(v, `${indent}        `)}\n`)
      .join('');
    return `Array\n${indent}(\n${inner}${indent})\n`;
  }
  if (Array.isArray(value)) return phpPrintR(new Map(value.map((v, i) => [String(i), v])), indent);
  if (value === true) return '1';
  if (value === false || value === null || value === undefined) return '';
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
