/**
 * Moodle's parameter descriptions (`external_value`, `external_single_structure`, `external_multiple_structure`) and
 * `external_api::validate_parameters()`, with the same checks, the same `clean_param()` rules for the PARAM_ types
 * the fake uses, and the same nested debuginfo text (`users => Invalid parameter value detected: Missing required
 * key in single structure: username`).
 */
import { InvalidParameterException } from './errors.js';
import { phpPrintR, type PhpArray } from './php-params.js';

/** PARAM_* types by the name Moodle prints in "the server was expecting "…" type". */
export type ParamType =
  | 'int'
  | 'bool'
  | 'raw'
  | 'raw_trimmed'
  | 'notags'
  | 'text'
  | 'alpha'
  | 'alphanumext'
  | 'safedir'
  | 'plugin'
  | 'username'
  | 'auth'
  | 'lang'
  | 'theme'
  | 'timezone';

/** VALUE_REQUIRED, VALUE_OPTIONAL or VALUE_DEFAULT. */
export type Requiredness = 'required' | 'optional' | 'default';

export interface ExternalValue {
  kind: 'value';
  type: ParamType;
  required: Requiredness;
  default?: unknown;
}
export interface ExternalSingle {
  kind: 'single';
  keys: Record<string, ExternalDescription>;
  required: Requiredness;
  default?: unknown;
}
export interface ExternalMultiple {
  kind: 'multiple';
  content: ExternalDescription;
  required: Requiredness;
  default?: unknown;
}
export type ExternalDescription = ExternalValue | ExternalSingle | ExternalMultiple;

type Opts = { required?: Requiredness; default?: unknown };
const req = (o: Opts): Requiredness => o.required ?? (o.default === undefined ? 'required' : 'default');

export const value = (type: ParamType, o: Opts = {}): ExternalValue => ({
  kind: 'value',
  type,
  required: req(o),
  default: o.default,
});
export const single = (keys: Record<string, ExternalDescription>, o: Opts = {}): ExternalSingle => ({
  kind: 'single',
  keys,
  required: req(o),
  default: o.default,
});
export const multiple = (content: ExternalDescription, o: Opts = {}): ExternalMultiple => ({
  kind: 'multiple',
  content,
  required: req(o),
  default: o.default,
});

/** What some PARAM_ types check against: the site's installed plugins and language packs. */
export interface SiteCatalog {
  langs: readonly string[];
  auths: readonly string[];
  themes: readonly string[];
}

/** Moodle's `validate_email()`. */
export function validateEmail(address: string): boolean {
  const atom = "[-!#$%&'*+\\/0-9=?A-Z^_`a-z{|}~]+";
  return new RegExp(`^${atom}(\\.${atom})*@${atom}(\\.${atom})*$`).test(address);
}

const PLUGIN_NAME = /^[a-z](?:[a-z0-9_](?!__))*[a-z0-9]+$/;

/** `clean_param()` for the types above; returns what Moodle would store. */
export function cleanParam(raw: string, type: ParamType, site: SiteCatalog): string | number {
  switch (type) {
    case 'int': {
      // PHP's (int) cast of a leading-numeric string.
      const match = /^\s*([+-]?\d+)/.exec(raw);
      return match ? Number.parseInt(match[1] ?? '0', 10) : 0;
    }
    case 'bool': {
      const lower = raw.trim().toLowerCase();
      if (['on', 'yes', 'true'].includes(lower)) return 1;
      if (['off', 'no', 'false'].includes(lower)) return 0;
      return raw === '' || raw === '0' ? 0 : 1;
    }
    case 'raw':
      return raw;
    case 'raw_trimmed':
      return raw.trim();
    case 'notags':
    case 'text':
      return raw.replace(/<\/?[a-zA-Z!?][^>]*>/g, '');
    case 'alpha':
      return raw.replace(/[^a-zA-Z]/g, '');
    case 'alphanumext':
      return raw.replace(/[^a-zA-Z0-9_-]/g, '');
    case 'safedir':
      return raw.replace(/[^a-zA-Z0-9_-]/g, '');
    case 'plugin':
      return PLUGIN_NAME.test(raw) ? raw : '';
    case 'username':
      // Without $CFG->extendedusernamechars: lower case, only [-.@_a-z0-9].
      return raw
        .trim()
        .toLowerCase()
        .replace(/[^-.@_a-z0-9]/g, '');
    case 'auth':
      return PLUGIN_NAME.test(raw) && site.auths.includes(raw) ? raw : '';
    case 'lang':
      return site.langs.includes(raw) ? raw : '';
    case 'theme':
      return PLUGIN_NAME.test(raw) && site.themes.includes(raw) ? raw : '';
    case 'timezone':
      return /^(99|[+-]?\d{1,2}(\.[05])?|[A-Za-z][A-Za-z0-9_+\-/]*)$/.test(raw) ? raw : '';
  }
}

const isArrayLike = (v: unknown): v is PhpArray | unknown[] => v instanceof Map || Array.isArray(v);
const entries = (v: PhpArray | unknown[]): [string, unknown][] =>
  v instanceof Map ? [...v] : v.map((item, i) => [String(i), item]);

function validateValue(desc: ExternalValue, input: unknown, site: SiteCatalog): unknown {
  if (isArrayLike(input) || (typeof input === 'object' && input !== null)) {
    throw new InvalidParameterException('Scalar type expected, array or object received.');
  }
  if (desc.type === 'bool') {
    // Moodle accepts only true/false/0/1 for booleans, not "true".
    if (typeof input === 'boolean' || input === 0 || input === 1 || input === '0' || input === '1') {
      return input === true || input === 1 || input === '1';
    }
  }
  const raw = typeof input === 'string' ? input : typeof input === 'number' ? String(input) : '';
  const debuginfo = `Invalid external api parameter: the value is "${raw}", the server was expecting "${desc.type}" type`;
  if (input === null || input === undefined) throw new InvalidParameterException(debuginfo);
  const cleaned = cleanParam(raw, desc.type, site);
  if (String(cleaned) !== raw) throw new InvalidParameterException(debuginfo);
  return cleaned;
}

/** `external_api::validate_parameters()`; throws {@link InvalidParameterException} like Moodle does. */
export function validateParameters(desc: ExternalDescription, input: unknown, site: SiteCatalog): unknown {
  switch (desc.kind) {
    case 'value':
      return validateValue(desc, input, site);
    case 'single': {
      if (!isArrayLike(input)) {
        throw new InvalidParameterException(`Only arrays accepted. The bad value is: '${phpPrintR(input)}'`);
      }
      const rest = new Map(entries(input));
      const result: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(desc.keys)) {
        const present = rest.has(key);
        if (!present && sub.required === 'required') {
          throw new InvalidParameterException(`Missing required key in single structure: ${key}`);
        }
        if (present || sub.required === 'default') {
          try {
            result[key] = validateParameters(sub, present ? rest.get(key) : sub.default, site);
          } catch (err) {
            if (!(err instanceof InvalidParameterException)) throw err;
            throw new InvalidParameterException(`${key} => ${err.message}: ${err.debuginfo ?? ''}`);
          }
        }
        rest.delete(key);
      }
      if (rest.size > 0) {
        throw new InvalidParameterException(
          `Unexpected keys (${[...rest.keys()].join(', ')}) detected in parameter array.`,
        );
      }
      return result;
    }
    case 'multiple': {
      if (!isArrayLike(input)) {
        throw new InvalidParameterException(`Only arrays accepted. The bad value is: '${phpPrintR(input)}'`);
      }
      return entries(input).map(([, item]) => validateParameters(desc.content, item, site));
    }
  }
}
