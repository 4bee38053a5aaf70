/**
 * Validation of SIAL's records, which arrive as unknown JSON. A record either parses (possibly with field-level
 * issues: the field is left out, so it never blanks a stored value) or is rejected with one RecordError; nothing
 * here throws.
 */
import { COLUMN_LIMITS, isPlausibleEmail, jsonProblem, textProblem } from './column-limits.js';
import { isPlainObject, type JsonObject } from './json.js';
import {
  describePosition,
  describeRecord,
  recordError,
  type RecordError,
  type RecordRef,
} from './record-error.js';
import { parseFechaInscri, parseFechaNatal } from './sial-dates.js';

/** The fields of `carreras[0]` the ingestion uses, validated; absent when SIAL sent nothing usable. */
export interface CarreraPrincipal {
  /** `YYYY-MM-DD` from `fecha_inscri`. */
  readonly fechaInscri?: string;
  /** Year of `fecha_inscri`. */
  readonly anioInscri?: number;
  readonly cohorte?: number;
  /** "1" presencial, "2" distancia. */
  readonly modalidad?: '1' | '2';
  readonly estadoIngreso?: string;
}

/** A validated list record. */
export interface SialListItem extends RecordRef {
  /** Document type, upper case; "DNI" when SIAL left it out. */
  readonly tipodoc: string;
  /** Document number as text; for DNI, digits without leading zeros (the list sends a number, personal data a string). */
  readonly nrodoc: string;
  /** The `carreras` array verbatim (each element an object), kept whole. */
  readonly carreras: JsonObject[];
  /** `carreras[0]`, validated; undefined when `carreras` is empty. */
  readonly principal: CarreraPrincipal | undefined;
  /**
   * SIAL left `tipodoc` out (`tipodoc` is then "DNI"): the run matches the number against the stored alumnos, so a
   * passport holder whose entry lost its tipodoc is not stored a second time as a DNI.
   */
  readonly tipodocOmitted?: boolean;
}

/** Validated personal data; fields SIAL left out or sent empty are absent. */
export interface SialPersonalData {
  readonly nombre?: string;
  readonly apellido?: string;
  readonly email?: string;
  /** `YYYY-MM-DD` from `fecha_natal`. */
  readonly fechaNacimiento?: string;
  readonly telefono?: string;
  readonly localidad?: string;
}

/** A parse result: the value with its field-level issues, or the reason the record is rejected. */
export type ParseOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly issues: readonly RecordError[] }
  | { readonly ok: false; readonly error: RecordError };

const DNI_PATTERN = /^\d{1,10}$/;
const OTHER_DOC_PATTERN = /^[A-Z0-9]{1,20}$/;
/** SIAL's document types (DNI, PAS, LC, LE, CI…): a few letters. */
const TIPODOC_PATTERN = /^[A-Z]{1,10}$/;

/** The raw value for a message: «31/02/2025». */
function shown(value: unknown): string {
  const raw = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const text = raw.length > 60 ? `${raw.slice(0, 57)}...` : raw;
  // A NUL or a control character would end up in a Log or a terminal: shown as its escape instead.
  // eslint-disable-next-line no-control-regex
  return `«${text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}»`;
}

const isBlank = (value: unknown): boolean =>
  value === undefined || value === null || (typeof value === 'string' && value.trim() === '');

/** Normalises a document number, or undefined when it is not one. */
function normaliseNrodoc(tipodoc: string, value: unknown): string | undefined {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value <= 0) return undefined;
    text = String(value);
  } else if (typeof value === 'string') {
    text = value.trim().toUpperCase();
  } else {
    return undefined;
  }
  if (tipodoc === 'DNI') {
    if (!DNI_PATTERN.test(text) || Number(text) === 0) return undefined;
    return String(Number(text));
  }
  return OTHER_DOC_PATTERN.test(text) ? text : undefined;
}

function parseTipodoc(value: unknown): string | undefined {
  if (isBlank(value)) return 'DNI';
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toUpperCase();
  return TIPODOC_PATTERN.test(text) ? text : undefined;
}

function parseCarreraPrincipal(raw: JsonObject, registro: string, issues: RecordError[]): CarreraPrincipal {
  const out: {
    fechaInscri?: string;
    anioInscri?: number;
    cohorte?: number;
    modalidad?: '1' | '2';
    estadoIngreso?: string;
  } = {};

  const fecha = raw.fecha_inscri;
  if (!isBlank(fecha)) {
    const parsed = typeof fecha === 'string' ? parseFechaInscri(fecha) : undefined;
    if (parsed) {
      out.fechaInscri = parsed.date;
      out.anioInscri = parsed.year;
    } else {
      issues.push(
        recordError('datos_invalidos', registro, `fecha_inscri inválida ${shown(fecha)}`, 'fecha_inscri'),
      );
    }
  }

  // The original treated a falsy cohorte (null, 0, "") as absent and fell back to the inscription year.
  const cohorte = raw.cohorte;
  if (!isBlank(cohorte) && cohorte !== 0) {
    const n =
      typeof cohorte === 'number' ? cohorte : typeof cohorte === 'string' ? Number(cohorte.trim()) : NaN;
    if (Number.isInteger(n) && n >= 1900 && n <= 2200) out.cohorte = n;
    else
      issues.push(recordError('datos_invalidos', registro, `cohorte inválida ${shown(cohorte)}`, 'cohorte'));
  }

  const modalidad = raw.modalidad;
  if (!isBlank(modalidad)) {
    const text =
      typeof modalidad === 'number'
        ? String(modalidad)
        : typeof modalidad === 'string'
          ? modalidad.trim()
          : '';
    if (text === '1' || text === '2') out.modalidad = text;
    else
      issues.push(
        recordError('datos_invalidos', registro, `modalidad inválida ${shown(modalidad)}`, 'modalidad'),
      );
  }

  const estadoIngreso = raw.estado_ingreso;
  if (typeof estadoIngreso === 'string' && estadoIngreso.trim() !== '')
    out.estadoIngreso = estadoIngreso.trim();

  return out;
}

/**
 * Validates one item of a `/listas/` response. `position` (0-based) names the record when it has no usable nrodoc.
 * Rejected (datos_invalidos): not an object, missing or invalid nrodoc, carreras not an array of objects.
 * Issues (the field is left out): invalid fecha_inscri, cohorte or modalidad of `carreras[0]`.
 */
export function parseListItem(raw: unknown, position: number): ParseOutcome<SialListItem> {
  const atPosition = describePosition(position);
  if (!isPlainObject(raw)) {
    return { ok: false, error: recordError('datos_invalidos', atPosition, 'el registro no es un objeto') };
  }
  const tipodoc = parseTipodoc(raw.tipodoc);
  if (tipodoc === undefined) {
    return {
      ok: false,
      error: recordError('datos_invalidos', atPosition, `tipodoc inválido ${shown(raw.tipodoc)}`, 'tipodoc'),
    };
  }
  if (isBlank(raw.nrodoc)) {
    const renamed = Object.keys(raw).find((k) => k !== 'nrodoc' && /doc/i.test(k) && k !== 'tipodoc');
    const hint = renamed ? ` (trae «${renamed}»: ¿cambió el formato de SIAL?)` : '';
    return { ok: false, error: recordError('datos_invalidos', atPosition, `falta nrodoc${hint}`, 'nrodoc') };
  }
  const nrodoc = normaliseNrodoc(tipodoc, raw.nrodoc);
  if (nrodoc === undefined) {
    return {
      ok: false,
      error: recordError('datos_invalidos', atPosition, `nrodoc inválido ${shown(raw.nrodoc)}`, 'nrodoc'),
    };
  }
  const registro = describeRecord({ tipodoc, nrodoc });
  const carreras = raw.carreras;
  if (!Array.isArray(carreras)) {
    const detalle = isBlank(carreras) ? 'falta carreras' : `carreras no es una lista ${shown(carreras)}`;
    return { ok: false, error: recordError('datos_invalidos', registro, detalle, 'carreras') };
  }
  const notObject = carreras.findIndex((c) => !isPlainObject(c));
  if (notObject !== -1) {
    return {
      ok: false,
      error: recordError(
        'datos_invalidos',
        registro,
        `carreras[${notObject}] no es un objeto ${shown(carreras[notObject])}`,
        'carreras',
      ),
    };
  }
  const unstorable = jsonProblem(carreras);
  if (unstorable) {
    return {
      ok: false,
      error: recordError('datos_invalidos', registro, `carreras ${unstorable}`, 'carreras'),
    };
  }
  const issues: RecordError[] = [];
  const objects = carreras as JsonObject[];
  const first = objects[0];
  const estadoIngreso = first?.estado_ingreso;
  const estadoProblem =
    typeof estadoIngreso === 'string'
      ? textProblem(estadoIngreso.trim(), COLUMN_LIMITS.estado_ingreso)
      : undefined;
  if (estadoProblem) {
    return {
      ok: false,
      error: recordError('datos_invalidos', registro, `estado_ingreso ${estadoProblem}`, 'estado_ingreso'),
    };
  }
  const principal = first === undefined ? undefined : parseCarreraPrincipal(first, registro, issues);
  const value: SialListItem = isBlank(raw.tipodoc)
    ? { tipodoc, nrodoc, carreras: objects, principal, tipodocOmitted: true }
    : { tipodoc, nrodoc, carreras: objects, principal };
  return { ok: true, value, issues };
}

/** A text field of personal data and the column it is stored in. */
const PERSONAL_TEXT_FIELDS = [
  ['nombre', COLUMN_LIMITS.nombre],
  ['apellido', COLUMN_LIMITS.apellido],
  ['telefono', COLUMN_LIMITS.telefono],
  ['localidad', COLUMN_LIMITS.localidad],
  ['email', COLUMN_LIMITS.email_personal],
] as const;

type PersonalTextField = (typeof PERSONAL_TEXT_FIELDS)[number][0];

/**
 * Validates the object of a `datospersonales` response for the list record `ref`.
 * - `null` (SIAL answered `[]`: it does not know the document) → rejected (sial): «SIAL no encontró el documento».
 * - Not an object, or an nrodoc of another person → rejected (sial).
 * - A text Postgres cannot store (NUL, unpaired surrogate, longer than its column) → rejected (datos_invalidos):
 *   the whole record is discarded rather than saved with a silently altered value; the next run tries it again.
 * - Issues (the field is left out): an e-mail that is not one, an invalid fecha_natal, a text field that is not
 *   text.
 * `email_institucional`, if SIAL ever sends it, is ignored: it is not SIAL's to set.
 */
export function parsePersonalData(raw: unknown, ref: RecordRef): ParseOutcome<SialPersonalData> {
  const registro = describeRecord(ref);
  if (raw === null) {
    return {
      ok: false,
      error: recordError(
        'sial',
        registro,
        'SIAL no encontró el documento en datos personales; se conservan los datos guardados',
      ),
    };
  }
  if (!isPlainObject(raw)) {
    return {
      ok: false,
      error: recordError(
        'sial',
        registro,
        `los datos personales llegaron con un formato inesperado ${shown(raw)}`,
      ),
    };
  }
  if (!isBlank(raw.nrodoc)) {
    const nrodoc = normaliseNrodoc(ref.tipodoc, raw.nrodoc);
    if (nrodoc !== ref.nrodoc) {
      return {
        ok: false,
        error: recordError(
          'sial',
          registro,
          `los datos personales corresponden a otro documento ${shown(raw.nrodoc)}; se ignoran`,
          'nrodoc',
        ),
      };
    }
  }
  const issues: RecordError[] = [];
  const texts: Partial<Record<PersonalTextField, string>> = {};
  for (const [field, max] of PERSONAL_TEXT_FIELDS) {
    const value = raw[field];
    if (isBlank(value)) continue;
    if (typeof value !== 'string' && typeof value !== 'number') {
      issues.push(recordError('datos_invalidos', registro, `${field} inválido ${shown(value)}`, field));
      continue;
    }
    const text = typeof value === 'string' ? value.trim() : String(value);
    // An e-mail too long for its column is not an e-mail: left out below, like any other invalid one.
    const problem = textProblem(text, field === 'email' ? undefined : max);
    if (problem) {
      return {
        ok: false,
        error: recordError(
          'datos_invalidos',
          registro,
          `${field} ${problem}; el registro no se guardó`,
          field,
        ),
      };
    }
    texts[field] = text;
  }
  const out: {
    nombre?: string;
    apellido?: string;
    email?: string;
    fechaNacimiento?: string;
    telefono?: string;
    localidad?: string;
  } = {};
  if (texts.nombre !== undefined) out.nombre = texts.nombre;
  if (texts.apellido !== undefined) out.apellido = texts.apellido;
  if (texts.telefono !== undefined) out.telefono = texts.telefono;
  if (texts.localidad !== undefined) out.localidad = texts.localidad;
  if (texts.email !== undefined) {
    if (isPlausibleEmail(texts.email)) out.email = texts.email;
    else
      issues.push(recordError('datos_invalidos', registro, `email inválido ${shown(texts.email)}`, 'email'));
  }

  const fechaNatal = raw.fecha_natal;
  if (!isBlank(fechaNatal)) {
    const parsed = typeof fechaNatal === 'string' ? parseFechaNatal(fechaNatal) : undefined;
    if (parsed) out.fechaNacimiento = parsed;
    else
      issues.push(
        recordError('datos_invalidos', registro, `fecha_natal inválida ${shown(fechaNatal)}`, 'fecha_natal'),
      );
  }
  return { ok: true, value: out, issues };
}
