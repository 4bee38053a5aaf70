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

/** A valid list item before fingerprinting (see {@link scanList}). */
export interface ScannedItem {
  readonly item: SialListItem;
  readonly issues: readonly RecordError[];
}

/** The first pass over a list response, for a run that fingerprints and processes its items page by page. */
export interface ListScan {
  /**
   * Per position of the response: the validated item when it is the one that wins its document (the last
   * occurrence), `undefined` for rejected and repeated items. The caller may clear entries as it consumes them.
   */
  readonly items: (ScannedItem | undefined)[];
  /** Number of items kept. */
  readonly kept: number;
  /** Rejected items, one error each. */
  readonly rejected: readonly RecordError[];
  /** Run-level warnings (Spanish), as {@link prepareListBatch}'s. */
  readonly warnings: readonly string[];
}

/**
 * Validates every item of a list response once (the same rules as {@link prepareListBatch}: the last occurrence of
 * a document wins) without fingerprinting: {@link fingerprintItem} does that page by page. The validated items
 * keep SIAL's `carreras` objects but not the raw records, so the caller can drop the raw list right after.
 */
export function scanList(tipo: Tipo, raw: readonly unknown[]): ListScan {
  const items = new Array<ScannedItem | undefined>(raw.length);
  const last = new Map<string, number>();
  const rejected: RecordError[] = [];
  let repeated = 0;
  for (let position = 0; position < raw.length; position++) {
    const parsed = parseListItem(raw[position], position);
    if (!parsed.ok) {
      rejected.push(parsed.error);
      continue;
    }
    const key = describeRecord(parsed.value);
    const previous = last.get(key);
    if (previous !== undefined) {
      repeated++;
      items[previous] = undefined;
    }
    last.set(key, position);
    items[position] = { item: parsed.value, issues: parsed.issues };
  }
  const warnings =
    repeated > 0
      ? [`SIAL envió ${repeated} registro(s) repetido(s) de ${tipo}; se usó el último de cada documento.`]
      : [];
  return { items, kept: last.size, rejected, warnings };
}

/** A scanned item with its list fingerprint. */
export function fingerprintItem(tipo: Tipo, scanned: ScannedItem): PreparedItem {
  return { item: scanned.item, fingerprint: listFingerprint(tipo, scanned.item), issues: scanned.issues };
}
