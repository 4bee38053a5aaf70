/**
 * A cheap change fingerprint of a list record, so a run can skip the personal-data request (one HTTP call per
 * person, the expensive part of an ingestion) for records whose list entry did not change.
 *
 * The rule (see {@link shouldFetchPersonalData}): personal data is fetched only for
 * - new alumnos,
 * - alumnos with no stored fingerprint for this tipo, or whose list entry's fingerprint changed,
 * - alumnos still missing nombre or apellido (a previous personal-data fetch failed), and
 * - every record of an incremental window (`force`): SIAL lists a record there because it modified it, possibly
 *   only its personal data.
 * The service stores the fingerprint per (tipo, tipo_documento, dni) — one alumno appears in several lists with
 * different entries — and only after the record was saved with its personal data; otherwise a failed fetch
 * would be skipped forever.
 * Limitation: on a full list (first load, reconciliation) a change only in personal data (a new phone) with an
 * identical list entry is not seen; the incremental window that lists the record (SIAL dates the change) fetches it.
 * A personal-data change SIAL does not date is seen only when the list entry changes.
 *
 * Definition (v2): `v2:` + the first 32 hex digits (128 bits) of the SHA-256 of the record's JSON text exactly as
 * SIAL sent it (its UTF-8 bytes, cut out of the list by the client's streaming splitter). Everything ingestion
 * stores from a list record (tipodoc, nrodoc, carreras verbatim and what is derived from carreras[0]) is in that
 * text, so any change of it changes the fingerprint. The tipo is not hashed: the fingerprint is stored per tipo
 * (`fingerprints ->> tipo`), and the same record in two lists is compared only with its own list's.
 *
 * Trade-off against v1 (SHA-256 of a canonical JSON of tipo, tipodoc, nrodoc and carreras, with object keys sorted
 * at every level): profiling showed the hash was never the cost (SHA-256 of ~280 bytes ≈ 0.4 µs, faster than SHA-1
 * or MD5 here); rebuilding the canonical text was (≈ 3.3 of v1's 3.7 µs a record, ~0.37 s of a 100,000-record
 * re-run). v2 hashes bytes the client already has: ≈ 0.4 µs a record. What v2 gives up: a difference SIAL makes
 * without a change of data — key order, whitespace, a number written as a string, a field ingestion does not
 * store — now looks like a change, so those records get their personal data fetched once more (never a wrong
 * merge: the merge still compares values). SIAL serialises from its database, so an unchanged record gives the
 * same bytes run after run; a SIAL upgrade that changes its serialisation costs one full personal-data refresh.
 * Should SIAL ever add a field that changes on every request, every record would look changed on every run and
 * the fingerprint would have to go back to hashing selected fields. Bumping v1 → v2 makes every stored v1
 * fingerprint differ, so the first run after the upgrade fetches everyone's personal data once (this service had
 * no deployment with v1 fingerprints when it changed).
 */
import { hash } from 'node:crypto';

/** Version of the definition; bump it when it changes, so every stored fingerprint is treated as changed. */
export const FINGERPRINT_VERSION = 'v2';

/**
 * Fingerprint of a list record from its JSON text as received: `v2:` + 32 hex chars. A string is hashed as its
 * UTF-8 bytes, so the text and its bytes give the same fingerprint.
 */
export function listFingerprint(json: Uint8Array | string): string {
  return `${FINGERPRINT_VERSION}:${hash('sha256', json, 'hex').slice(0, 32)}`;
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
  /** Fetch whatever the rest says (every record of an incremental window). Default false. */
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
