/**
 * The slice of OData query options the fake understands on users: `$select`, `$top` with `$skiptoken` paging, and a
 * `$filter` of `eq` / `in` / `startswith()` clauses joined by `and` — the basic (non-"advanced") queries Graph answers
 * on users without `ConsistencyLevel: eventual`. Anything else is refused the way Graph refuses it.
 */
import { GraphFakeError } from './graph-error.js';

/** A parsed `$filter`: a predicate over a user's properties. */
export type UserPredicate = (user: Readonly<Record<string, unknown>>) => boolean;

type Literal = string | boolean | null;

/** User properties `$filter` accepts here (all support `eq`, `in` and `startswith` on Graph, basic queries). */
export const FILTERABLE_USER_PROPERTIES: readonly string[] = [
  'id',
  'userPrincipalName',
  'employeeId',
  'mail',
  'mailNickname',
  'displayName',
  'givenName',
  'surname',
  'accountEnabled',
  'usageLocation',
];

const unsupported = (property: string): GraphFakeError =>
  new GraphFakeError(
    400,
    'Request_UnsupportedQuery',
    `Unsupported or invalid query filter clause specified for property '${property}' of resource 'User'.`,
  );

const syntaxError = (filter: string, at: number): GraphFakeError =>
  new GraphFakeError(
    400,
    'BadRequest',
    `Invalid filter clause: Syntax error at position ${at} in '${filter}'.`,
  );

class FilterParser {
  private at = 0;

  constructor(private readonly text: string) {}

  parse(): UserPredicate {
    const clauses: UserPredicate[] = [this.clause()];
    this.space();
    while (this.at < this.text.length) {
      if (!this.word('and')) {
        // `or`, `not`, `ne`, lambdas and the rest are advanced queries on directory objects.
        throw this.text.slice(this.at).toLowerCase().startsWith('or')
          ? new GraphFakeError(400, 'Request_UnsupportedQuery', 'Unsupported Query.')
          : syntaxError(this.text, this.at);
      }
      clauses.push(this.clause());
      this.space();
    }
    return (user) => clauses.every((c) => c(user));
  }

  private clause(): UserPredicate {
    this.space();
    if (this.text.slice(this.at).toLowerCase().startsWith('startswith(')) {
      this.at += 'startswith('.length;
      const property = this.property();
      this.space();
      this.expect(',');
      const value = this.literal();
      this.space();
      this.expect(')');
      if (typeof value !== 'string') throw syntaxError(this.text, this.at);
      const prefix = value.toLowerCase();
      return (user) => {
        const v = user[property];
        return typeof v === 'string' && v.toLowerCase().startsWith(prefix);
      };
    }
    const property = this.property();
    this.space();
    const op = /^[a-z]+/i.exec(this.text.slice(this.at))?.[0].toLowerCase() ?? '';
    this.at += op.length;
    if (op === 'eq') {
      const value = this.literal();
      return (user) => same(user[property], value);
    }
    if (op === 'in') {
      this.space();
      this.expect('(');
      const values: Literal[] = [this.literal()];
      this.space();
      while (this.text[this.at] === ',') {
        this.at++;
        values.push(this.literal());
        this.space();
      }
      this.expect(')');
      return (user) => values.some((v) => same(user[property], v));
    }
    if (['ne', 'gt', 'ge', 'lt', 'le', 'has'].includes(op)) throw unsupported(property);
    throw syntaxError(this.text, this.at);
  }

  private property(): string {
    this.space();
    const name = /^[A-Za-z][A-Za-z0-9_/]*/.exec(this.text.slice(this.at))?.[0];
    if (!name) throw syntaxError(this.text, this.at);
    this.at += name.length;
    const known = FILTERABLE_USER_PROPERTIES.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!known) throw unsupported(name);
    return known;
  }

  private literal(): Literal {
    this.space();
    if (this.text[this.at] === "'") {
      let out = '';
      this.at++;
      for (;;) {
        const ch = this.text[this.at];
        if (ch === undefined) throw syntaxError(this.text, this.at);
        this.at++;
        if (ch === "'") {
          if (this.text[this.at] !== "'") return out;
          this.at++;
        }
        out += ch;
      }
    }
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.word(word)) return value;
    }
    throw syntaxError(this.text, this.at);
  }

  private word(w: string): boolean {
    const slice = this.text.slice(this.at, this.at + w.length);
    const after = this.text[this.at + w.length];
    if (slice.toLowerCase() !== w || (after !== undefined && /[A-Za-z0-9_]/.test(after))) return false;
    this.at += w.length;
    return true;
  }

  private expect(ch: string): void {
    if (this.text[this.at] !== ch) throw syntaxError(this.text, this.at);
    this.at++;
  }

  private space(): void {
    while (this.text[this.at] === ' ') this.at++;
  }
}

/** Directory string comparisons are case-insensitive (a UPN matches whatever its casing). */
function same(actual: unknown, expected: Literal): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof expected === 'string')
    return typeof actual === 'string' && actual.toLowerCase() === expected.toLowerCase();
  return actual === expected;
}

/**
 * Parses a `$filter` over users.
 * @throws GraphFakeError 400 `BadRequest` for a syntax error, `Request_UnsupportedQuery` for an operator or
 *   property that needs an advanced query or is not filterable.
 */
export function parseUserFilter(filter: string): UserPredicate {
  return new FilterParser(filter.trim()).parse();
}

/**
 * Parses `$select` against the properties a resource declares; `undefined` when absent.
 * @throws GraphFakeError 400 for a property the type does not have.
 */
export function parseSelect(select: string | null, declared: readonly string[]): string[] | undefined {
  if (select === null) return undefined;
  const out: string[] = [];
  for (const raw of select.split(',')) {
    const name = raw.trim();
    if (name === '') continue;
    const known = declared.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!known) {
      throw new GraphFakeError(
        400,
        'BadRequest',
        `Could not find a property named '${name}' on type 'microsoft.graph.user'.`,
      );
    }
    if (!out.includes(known)) out.push(known);
  }
  return out;
}

/**
 * Parses `$top` (1–999, default 100) and `$skiptoken` (an opaque offset this fake issued).
 * @throws GraphFakeError 400 for an out-of-range page size or a token it did not issue.
 */
export function parsePage(top: string | null, skiptoken: string | null): { top: number; offset: number } {
  let size = 100;
  if (top !== null) {
    size = Number(top);
    if (!Number.isInteger(size) || size < 1 || size > 999) {
      throw new GraphFakeError(
        400,
        'Request_BadRequest',
        `Invalid page size specified: '${top}'. Must be between 1 and 999 inclusive.`,
      );
    }
  }
  let offset = 0;
  if (skiptoken !== null) {
    const decoded = /^o(\d+)$/.exec(Buffer.from(skiptoken, 'base64url').toString('utf8'));
    if (!decoded) throw new GraphFakeError(400, 'Request_BadRequest', 'Invalid paging token.');
    offset = Number(decoded[1]);
  }
  return { top: size, offset };
}

/** The `$skiptoken` for a page starting at `offset`. */
export const skipToken = (offset: number): string => Buffer.from(`o${offset}`, 'utf8').toString('base64url');
