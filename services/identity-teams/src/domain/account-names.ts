/**
 * Names of an alumno's external accounts: the UPN `{prefix}{dni}@{domain}` (design.md), its display name and mail
 * nickname. Entra ID accepts only `A-Z a-z 0-9 ' . - _ ! # ^ ~` before the `@` (no accents) and compares UPNs
 * case-insensitively; they are built lower case so the same alumno always gets the same string.
 */

/** A name that cannot be built, with a Spanish message naming the field. */
export class AccountNameError extends Error {
  override readonly name = 'AccountNameError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const UPN_LOCAL = /^[a-z0-9'.\-_!#^~]+$/;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const MAX_LOCAL = 64;

/** Removes accents and other combining marks: «Peña Núñez» → «Pena Nunez». */
export function foldAccents(text: string): string {
  return text.normalize('NFD').replace(/\p{M}+/gu, '');
}

/**
 * A document number as accounts use it: dots and spaces removed, lower case, leading zeros of an all-digit number
 * dropped (as ingestion stores DNIs). «40.111.222» → «40111222».
 * @throws AccountNameError when it is empty, zero, longer than 20 or has other characters.
 */
export function normalizeDni(value: string | number): string {
  const text = String(value).replace(/[.\s]/g, '').toLowerCase();
  if (!/^[a-z0-9]{1,20}$/.test(text)) {
    throw new AccountNameError(
      'dni',
      `El documento «${String(value)}» no es válido para una cuenta: solo letras y números.`,
    );
  }
  if (/^\d+$/.test(text)) {
    const digits = text.replace(/^0+/, '');
    if (digits === '') throw new AccountNameError('dni', 'El documento no puede ser cero.');
    return digits;
  }
  return text;
}

/** Parts of a UPN. */
export interface UpnParts {
  /** Configured prefix (`test-a` in testing, `a` in production in the original); may be empty. */
  prefix: string;
  dni: string | number;
  /** A verified domain of the tenant, e.g. `eco.unrc.edu.ar`. */
  domain: string;
}

/**
 * The UPN `{prefix}{dni}@{domain}`, lower case.
 * @throws AccountNameError naming the prefix, document or domain that breaks Entra's rules.
 */
export function buildUpn(parts: UpnParts): string {
  const prefix = parts.prefix.trim().toLowerCase();
  if (prefix !== '' && !UPN_LOCAL.test(prefix)) {
    throw new AccountNameError(
      'prefix',
      `El prefijo de cuenta «${parts.prefix}» tiene caracteres no permitidos en un UPN (solo letras sin acentos, números y ' . - _ ! # ^ ~).`,
    );
  }
  const local = prefix + normalizeDni(parts.dni);
  if (local.startsWith('.') || local.includes('..') || local.length > MAX_LOCAL) {
    throw new AccountNameError(
      'prefix',
      `«${local}» no sirve como UPN: no puede empezar con punto, tener dos puntos seguidos ni superar ${MAX_LOCAL} caracteres.`,
    );
  }
  const domain = parts.domain.trim().toLowerCase();
  if (!DOMAIN.test(domain)) {
    throw new AccountNameError(
      'domain',
      `El dominio de cuentas «${parts.domain}» no es un nombre de dominio válido.`,
    );
  }
  return `${local}@${domain}`;
}

const collapse = (text: string): string => text.trim().replace(/\s+/g, ' ');

/**
 * The display name «Apellido, Nombre» (as the original showed it; accents kept), or whichever part exists.
 * @throws AccountNameError when both are blank.
 */
export function buildDisplayName(nombre: string, apellido: string): string {
  const n = collapse(nombre);
  const a = collapse(apellido);
  const name = n && a ? `${a}, ${n}` : n || a;
  if (name === '') throw new AccountNameError('nombre', 'El alumno no tiene nombre ni apellido.');
  return name.slice(0, 256);
}

/** Lower-case ASCII words of a name: «María José» → ["maria", "jose"]. */
const asciiWords = (text: string): string[] =>
  foldAccents(text)
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/**
 * The mail nickname (Exchange alias): first given name and the surnames, without accents, with the document so it
 * is unique: «María José», «Pérez García», 40111222 → «maria.perez.garcia.40111222». At most 64 characters (the
 * names are shortened); only the document when the names have no Latin letters.
 */
export function buildMailNickname(nombre: string, apellido: string, dni: string | number): string {
  const doc = normalizeDni(dni);
  const names = [...asciiWords(nombre).slice(0, 1), ...asciiWords(apellido)].join('.');
  if (names === '') return doc;
  const room = MAX_LOCAL - doc.length - 1;
  return `${names.slice(0, room).replace(/\.+$/, '')}.${doc}`;
}
