/**
 * Temporary passwords for new accounts and resets. Entra's default policy wants 8–256 characters from at least
 * three of upper case, lower case, digits and symbols; these have 16 by default (at least 12), one of each class,
 * none of the characters people misread when typing from an e-mail (0 O o 1 l I) and no quotes, `<`, `>` or `&`
 * that break templates. Never derived from the alumno's data.
 */
import { randomInt } from 'node:crypto';

const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const LOWER = 'abcdefghijkmnpqrstuvwxyz';
const DIGITS = '23456789';
const SYMBOLS = '!#$%*+-=?@';
const CLASSES = [UPPER, LOWER, DIGITS, SYMBOLS] as const;
const ALL = CLASSES.join('');
/** Characters a password from {@link generateTemporaryPassword} never has. */
export const AMBIGUOUS_CHARACTERS = '0Oo1lI';
/** The shortest length accepted. */
export const MIN_PASSWORD_LENGTH = 12;

/** Options of {@link generateTemporaryPassword}. */
export interface TemporaryPasswordOptions {
  /** Default 16; at least {@link MIN_PASSWORD_LENGTH}. */
  length?: number;
  /** Uniform integer in [0, max): default `crypto.randomInt` (a CSPRNG, unbiased). */
  randomInt?: (max: number) => number;
}

/**
 * A random password with one character of each class and the rest from all of them, shuffled.
 * @throws RangeError for a length under 12 or over 256.
 */
export function generateTemporaryPassword(options: TemporaryPasswordOptions = {}): string {
  const length = options.length ?? 16;
  const pick = options.randomInt ?? ((max: number) => randomInt(max));
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > 256) {
    throw new RangeError(`password length must be an integer in [${MIN_PASSWORD_LENGTH}, 256]`);
  }
  const chars = CLASSES.map((set) => set.charAt(pick(set.length)));
  while (chars.length < length) chars.push(ALL.charAt(pick(ALL.length)));
  for (let i = chars.length - 1; i > 0; i--) {
    const j = pick(i + 1);
    [chars[i], chars[j]] = [chars[j] ?? '', chars[i] ?? ''];
  }
  return chars.join('');
}

/** Whether a password meets this module's policy: length ≥ 12, three of the four classes, nothing ambiguous. */
export function isAcceptableTemporaryPassword(password: string): boolean {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > 256) return false;
  if ([...password].some((c) => AMBIGUOUS_CHARACTERS.includes(c))) return false;
  const classes = [/[A-Z]/, /[a-z]/, /\d/, /[^A-Za-z\d]/].filter((re) => re.test(password)).length;
  return classes >= 3;
}
