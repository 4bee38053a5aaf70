/**
 * Per-record problems of an ingestion run. One bad record never aborts the batch: it becomes a RecordError, is
 * tallied by category and shown to staff (messages in Spanish, naming the record and the field).
 */

/**
 * Error categories, as in the Tarea detalles:
 * - `sial`: SIAL failed for this record (personal data could not be fetched, or came back unusable);
 * - `datos_invalidos`: the record's data is invalid (missing or invalid nrodoc, carreras not an array, bad dates…);
 * - `guardado`: the record could not be saved;
 * - `otros`: anything else (an unexpected exception).
 */
export type ErrorCategoria = 'sial' | 'datos_invalidos' | 'guardado' | 'otros';

/** Every category, in display order. */
export const ERROR_CATEGORIAS: readonly ErrorCategoria[] = ['sial', 'datos_invalidos', 'guardado', 'otros'];

/** One problem with one record. */
export interface RecordError {
  readonly categoria: ErrorCategoria;
  /** Spanish, for staff: "DNI 30111222: fecha_inscri inválida «31/02/2025»". */
  readonly mensaje: string;
  /** The record: "DNI 30111222", or "Registro 17 de la lista" when it has no usable document number. */
  readonly registro: string;
  /** The SIAL field at fault, when there is one. */
  readonly campo?: string;
}

/** How a record is named in messages. */
export interface RecordRef {
  readonly tipodoc: string;
  readonly nrodoc: string;
}

/** "DNI 30111222". */
export function describeRecord(ref: RecordRef): string {
  return `${ref.tipodoc} ${ref.nrodoc}`;
}

/** "Registro 17 de la lista" (1-based), for records without a usable nrodoc. */
export function describePosition(position: number): string {
  return `Registro ${position + 1} de la lista`;
}

/** Message of a thrown value, without stack. */
export function causeMessage(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  if (typeof cause === 'string') return cause;
  try {
    return JSON.stringify(cause) ?? String(cause);
  } catch {
    return String(cause);
  }
}

/** Builds a RecordError whose message starts with the record's name. */
export function recordError(
  categoria: ErrorCategoria,
  registro: string,
  detalle: string,
  campo?: string,
): RecordError {
  return campo === undefined
    ? { categoria, registro, mensaje: `${registro}: ${detalle}` }
    : { categoria, registro, campo, mensaje: `${registro}: ${detalle}` };
}

/** Personal data could not be fetched: the record is still saved, keeping the stored names and e-mail. */
export function personalDataError(ref: RecordRef, cause: unknown): RecordError {
  return recordError(
    'sial',
    describeRecord(ref),
    `no se pudieron obtener los datos personales de SIAL (${causeMessage(cause)}); se conservan los datos guardados`,
  );
}

/** The record could not be saved. */
export function saveError(ref: RecordRef, cause: unknown): RecordError {
  return recordError('guardado', describeRecord(ref), `error al guardar (${causeMessage(cause)})`);
}

/** Postgres refused the record's values (a value no column check caught): left out, the run goes on. */
export function dataRejected(ref: RecordRef, reason: string): RecordError {
  return recordError(
    'datos_invalidos',
    describeRecord(ref),
    `la base de datos rechazó el registro (${reason}); no se guardó`,
  );
}

/** An unexpected failure while processing the record. */
export function unexpectedError(registro: string, cause: unknown): RecordError {
  return recordError('otros', registro, `error inesperado (${causeMessage(cause)})`);
}
