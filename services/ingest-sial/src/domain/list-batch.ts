/**
 * The first step of a run over a SIAL list response: validate every item, fingerprint the good ones and drop
 * repeated documents. Bad items become RecordErrors; nothing throws.
 */
import { listFingerprint } from './fingerprint.js';
import { describeRecord, type RecordError } from './record-error.js';
import { parseListItem, type SialListItem } from './sial-record.js';
import type { Tipo } from './tipo.js';

/** A valid list item ready to be merged. */
export interface PreparedItem {
  readonly item: SialListItem;
  /** See {@link listFingerprint}. */
  readonly fingerprint: string;
  /** Field-level problems; the fields are left out of the merge. */
  readonly issues: readonly RecordError[];
}

/** The validated batch. */
export interface PreparedBatch {
  /** Valid items, one per (tipodoc, nrodoc), in first-seen order. */
  readonly items: readonly PreparedItem[];
  /** Rejected items, one error each. */
  readonly rejected: readonly RecordError[];
  /** Run-level warnings (Spanish). */
  readonly warnings: readonly string[];
}

/**
 * Validates a list response. When a document appears more than once, its last occurrence wins (it is the one
 * SIAL wrote last in the response) and a warning says how many repeats there were.
 */
export function prepareListBatch(tipo: Tipo, raw: readonly unknown[]): PreparedBatch {
  const byKey = new Map<string, PreparedItem>();
  const rejected: RecordError[] = [];
  let repeated = 0;
  raw.forEach((entry, position) => {
    const parsed = parseListItem(entry, position);
    if (!parsed.ok) {
      rejected.push(parsed.error);
      return;
    }
    const key = describeRecord(parsed.value);
    if (byKey.has(key)) repeated++;
    byKey.set(key, {
      item: parsed.value,
      fingerprint: listFingerprint(tipo, parsed.value),
      issues: parsed.issues,
    });
  });
  const warnings =
    repeated > 0
      ? [`SIAL envió ${repeated} registro(s) repetido(s) de ${tipo}; se usó el último de cada documento.`]
      : [];
  return { items: [...byKey.values()], rejected, warnings };
}
