/**
 * A cheap change fingerprint of a list record, so a run can skip the personal-data request (one HTTP call per
 * person, the expensive part of an ingestion) for records whose list entry did not change.
 *
 * The rule (see {@link shouldFetchPersonalData}): personal data is fetched only for
 * - new alumnos,
 * - alumnos with no stored fingerprint for this tipo, or whose list entry's fingerprint changed,
 * - alumnos still missing nombre or apellido (a previous personal-data fetch failed), and
 * - every record of a forced full load.
 * The service stores the fingerprint per (tipo, tipo_documento, dni) — one alumno appears in several lists with
 * different entries — and only after the record was saved with its personal data; otherwise a failed fetch
 * would be skipped forever.
 * Limitation: a change only in personal data (a new phone) with an identical list entry is not seen until the
 * entry changes or a forced full load runs.
 */
import { hash } from 'node:crypto';
import { canonicalJson } from './json.js';
import type { SialListItem } from './sial-record.js';
import type { Tipo } from './tipo.js';

/** Version of the normalisation; bump it when it changes, so every stored fingerprint is treated as changed. */
const FINGERPRINT_VERSION = 'v1';

/**
 * Stable fingerprint of a validated list record: `v1:` + 32 hex chars (128 bits of SHA-256) of the canonical JSON
 * of tipo, tipodoc, nrodoc and carreras (object key order ignored, nrodoc number/string normalised).
 */
export function listFingerprint(tipo: Tipo, item: SialListItem): string {
  // canonicalJson({ tipo, tipodoc, nrodoc, carreras }) written out (its keys in sorted order; none is ever
  // undefined), and a one-shot hash: every record of every run goes through here.
  const canonical = `{"carreras":${canonicalJson(item.carreras)},"nrodoc":${JSON.stringify(item.nrodoc)},"tipo":${JSON.stringify(tipo)},"tipodoc":${JSON.stringify(item.tipodoc)}}`;
  return `${FINGERPRINT_VERSION}:${hash('sha256', canonical, 'hex').slice(0, 32)}`;
}

/** Why personal data is (or is not) fetched for a record. */
export type PersonalDataReason =
  'nuevo' | 'sin_huella' | 'cambio' | 'datos_incompletos' | 'forzado' | 'sin_cambios';

/** Input of {@link shouldFetchPersonalData}. */
export interface PersonalDataDecisionInput {
  /** The stored alumno's names, or undefined when the alumno is new. */
  readonly existing?: { readonly nombre: string | null; readonly apellido: string | null } | undefined;
  /** Fingerprint stored for this tipo after the last successful processing, if any. */
  readonly storedFingerprint?: string | null | undefined;
  /** Fingerprint of the record received now. */
  readonly fingerprint: string;
  /** A forced full load re-reads everyone's personal data. Default false. */
  readonly force?: boolean;
}

/** Applies the fingerprint rule documented in this module. */
export function shouldFetchPersonalData(input: PersonalDataDecisionInput): {
  fetch: boolean;
  reason: PersonalDataReason;
} {
  if (input.force) return { fetch: true, reason: 'forzado' };
  if (!input.existing) return { fetch: true, reason: 'nuevo' };
  if (!input.existing.nombre || !input.existing.apellido) return { fetch: true, reason: 'datos_incompletos' };
  if (!input.storedFingerprint) return { fetch: true, reason: 'sin_huella' };
  if (input.storedFingerprint !== input.fingerprint) return { fetch: true, reason: 'cambio' };
  return { fetch: false, reason: 'sin_cambios' };
}
