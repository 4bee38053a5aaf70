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

const repeatedWarning = (tipo: Tipo, repeated: number): string[] =>
  repeated > 0
    ? [`SIAL envió ${repeated} registro(s) repetido(s) de ${tipo}; se usó el último de cada documento.`]
    : [];

/**
 * Validates a list response already parsed whole (small lists, tests). When a document appears more than once, its
 * last occurrence wins (it is the one SIAL wrote last in the response) and a warning says how many repeats there
 * were. The fingerprint is taken of each record's `JSON.stringify`, which is the text SIAL sent when it sends
 * compact JSON; a run takes it of the text as received ({@link createListScanner}).
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
      fingerprint: listFingerprint(JSON.stringify(entry)),
      issues: parsed.issues,
    });
  });
  return { items: [...byKey.values()], rejected, warnings: repeatedWarning(tipo, repeated) };
}

/**
 * A valid list item as a run keeps it between the list request and its page: the document, the field issues and
 * the record's JSON text (UTF-8, in a shared buffer), but not the parsed record — {@link scannedFingerprint} hashes
 * the text and {@link restoreListItem} parses it again when the page needs it. About 100 bytes of heap plus the
 * record's own text, where the parsed record with its `carreras` objects took ~600.
 */
export interface ScannedItem {
  readonly tipodoc: string;
  readonly nrodoc: string;
  readonly issues: readonly RecordError[];
  /** 0-based position in the response. */
  readonly position: number;
  /** The record's JSON text is `buffer[start, end)`. */
  readonly buffer: Uint8Array;
  readonly start: number;
  readonly end: number;
}

/** The first pass over a list response, for a run that processes its items page by page. */
export interface ListScan {
  /**
   * Per position of the response (its length is the number of records received): the item when it is the one
   * that wins its document (the last occurrence), `undefined` for rejected and repeated items. The caller may
   * clear entries as it consumes them, which also lets go of their text.
   */
  readonly items: (ScannedItem | undefined)[];
  /** Number of items kept. */
  readonly kept: number;
  /** Rejected items, one error each. */
  readonly rejected: readonly RecordError[];
  /** Run-level warnings (Spanish), as {@link prepareListBatch}'s. */
  readonly warnings: readonly string[];
}

/** Validates a list response record by record, while it arrives ({@link createListScanner}). */
export interface ListScanner {
  /**
   * The next record of the response: its parsed JSON and its JSON text as received (UTF-8; copied, so the caller
   * may reuse it). Its position is the number of records added before it.
   */
  add(raw: unknown, json: Uint8Array): void;
  /** The scan of every record added; the scanner must not be used afterwards. */
  finish(): ListScan;
}

/** Size of the buffers the records' texts are copied into. */
const TEXT_BLOCK = 1 << 20;
const NO_ISSUES: readonly RecordError[] = Object.freeze([]);

/**
 * Validates the records of a list response one at a time, with the rules of {@link prepareListBatch} (the last
 * occurrence of a document wins). Only the compact {@link ScannedItem}s are kept, never the parsed records, so a
 * streamed response is never held whole, parsed or not.
 */
export function createListScanner(tipo: Tipo): ListScanner {
  const items: (ScannedItem | undefined)[] = [];
  const last = new Map<string, number>();
  const rejected: RecordError[] = [];
  // One copy of each tipodoc ("DNI") instead of one string per record.
  const tipodocs = new Map<string, string>();
  let repeated = 0;
  let block = new Uint8Array(0);
  let used = 0;
  return {
    add(raw, json) {
      const position = items.length;
      const parsed = parseListItem(raw, position);
      if (!parsed.ok) {
        rejected.push(parsed.error);
        items.push(undefined);
        return;
      }
      const { nrodoc } = parsed.value;
      let tipodoc = tipodocs.get(parsed.value.tipodoc);
      if (tipodoc === undefined) {
        tipodoc = parsed.value.tipodoc;
        tipodocs.set(tipodoc, tipodoc);
      }
      const key = describeRecord({ tipodoc, nrodoc });
      const previous = last.get(key);
      if (previous !== undefined) {
        repeated++;
        items[previous] = undefined;
      }
      last.set(key, position);
      if (used + json.length > block.length) {
        block = new Uint8Array(Math.max(TEXT_BLOCK, json.length));
        used = 0;
      }
      block.set(json, used);
      items.push({
        tipodoc,
        nrodoc,
        issues: parsed.issues.length > 0 ? parsed.issues : NO_ISSUES,
        position,
        buffer: block,
        start: used,
        end: used + json.length,
      });
      used += json.length;
    },
    finish() {
      const kept = last.size;
      last.clear();
      return { items, kept, rejected, warnings: repeatedWarning(tipo, repeated) };
    },
  };
}

const decoder = new TextDecoder();

/** The fingerprint of a scanned item: {@link listFingerprint} of its text as received. */
export function scannedFingerprint(scanned: ScannedItem): string {
  return listFingerprint(scanned.buffer.subarray(scanned.start, scanned.end));
}

/**
 * The validated list record of a scanned item, parsed again from its text (it was valid when scanned, and
 * validation is deterministic).
 * @throws Error if the text no longer parses to a valid record (a bug, not a data problem).
 */
export function restoreListItem(scanned: ScannedItem): SialListItem {
  const text = decoder.decode(scanned.buffer.subarray(scanned.start, scanned.end));
  const parsed = parseListItem(JSON.parse(text) as unknown, scanned.position);
  if (!parsed.ok) throw new Error(`restoreListItem: ${parsed.error.mensaje}`);
  return parsed.value;
}
