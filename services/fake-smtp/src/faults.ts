/**
 * Fault switches of the SMTP sink. The same input shape is accepted in process (`setFaults`) and over HTTP
 * (`POST /api/faults`), so it is validated as unknown JSON.
 */
import { FakeInputError, isJsonObject, nonNegativeInt, spendFault } from '@lucy/fake-kit';

// A fault input is not valid; answered 400 on the HTTP API. Part of this package's API.
export { FakeInputError };

/** Reject the next N messages: a count, or the count with the reply code and text. */
export type RejectInput = number | { count: number; code?: number; message?: string };

/** Fault settings; fields left out keep their current value, `false`/`0`/`null` clears one. */
export interface SmtpSinkFaultsInput {
  /** Answer the end of DATA of the next N messages with a 4xx (temporary) reply; default 451. */
  rejectTemporary?: RejectInput | false | null;
  /** Answer the end of DATA of the next N messages with a 5xx (permanent) reply; default 554. */
  rejectPermanent?: RejectInput | false | null;
  /**
   * Refuse `RCPT TO` for addresses matching a case-insensitive regular expression, until cleared; default 550.
   * Other recipients of the same message are still accepted.
   */
  rejectRecipients?: string | { pattern: string; code?: number; message?: string } | false | null;
  /** Delay before answering the end of DATA, in ms. */
  latencyMs?: number | false | null;
}

/** A counted rejection after normalisation. */
export interface RejectFault {
  remaining: number;
  code: number;
  message: string;
}

/** The normalised fault state. */
export interface SmtpSinkFaults {
  rejectTemporary?: RejectFault;
  rejectPermanent?: RejectFault;
  rejectRecipients?: { pattern: string; code: number; message: string };
  latencyMs?: number;
}

const KNOWN_KEYS = new Set(['rejectTemporary', 'rejectPermanent', 'rejectRecipients', 'latencyMs']);

// Postfix's wording for the same situations.
const DEFAULTS = {
  rejectTemporary: { code: 451, message: '4.3.0 Error: queue file write error, try again later' },
  rejectPermanent: { code: 554, message: '5.7.1 Error: message rejected by policy' },
  rejectRecipients: { code: 550, message: '5.1.1 Recipient address rejected: User unknown' },
} as const;

function parseCode(value: unknown, min: number, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value < min + 100) return value;
  throw new FakeInputError(`${field} must be a ${min / 100}xx reply code`);
}

function parseMessage(value: unknown, fallback: string, field: string): string {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && value !== '' && !/[\r\n]/.test(value)) return value;
  throw new FakeInputError(`${field} must be a one-line text`);
}

function parseReject(value: unknown, field: 'rejectTemporary' | 'rejectPermanent'): RejectFault | undefined {
  if (value === false || value === null || value === 0) return undefined;
  const defaults = DEFAULTS[field];
  const min = field === 'rejectTemporary' ? 400 : 500;
  if (typeof value === 'number') return { remaining: nonNegativeInt(value, field), ...defaults };
  if (isJsonObject(value)) {
    const remaining = nonNegativeInt(value.count, `${field}.count`);
    if (remaining === 0) return undefined;
    return {
      remaining,
      code: value.code === undefined ? defaults.code : parseCode(value.code, min, `${field}.code`),
      message: parseMessage(value.message, defaults.message, `${field}.message`),
    };
  }
  throw new FakeInputError(`${field} must be false, a count or {count, code?, message?}`);
}

function parsePattern(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw new FakeInputError(`${field} must be a regular expression`);
  try {
    new RegExp(value, 'i');
  } catch {
    throw new FakeInputError(`${field} is not a valid regular expression`);
  }
  return value;
}

/**
 * Applies a fault input (unknown JSON) on top of the current faults and returns the new state.
 * @throws FakeInputError naming the offending field.
 */
export function mergeFaults(current: SmtpSinkFaults, input: unknown): SmtpSinkFaults {
  if (!isJsonObject(input)) throw new FakeInputError('faults must be a JSON object');
  for (const k of Object.keys(input)) {
    if (!KNOWN_KEYS.has(k)) throw new FakeInputError(`unknown fault "${k}"`);
  }
  const next: SmtpSinkFaults = structuredClone(current);
  for (const field of ['rejectTemporary', 'rejectPermanent'] as const) {
    if (!(field in input)) continue;
    const fault = parseReject(input[field], field);
    if (fault) next[field] = fault;
    else delete next[field];
  }
  if ('rejectRecipients' in input) {
    const value = input.rejectRecipients;
    const defaults = DEFAULTS.rejectRecipients;
    if (value === false || value === null) delete next.rejectRecipients;
    else if (typeof value === 'string') {
      next.rejectRecipients = { pattern: parsePattern(value, 'rejectRecipients'), ...defaults };
    } else if (isJsonObject(value)) {
      next.rejectRecipients = {
        pattern: parsePattern(value.pattern, 'rejectRecipients.pattern'),
        code:
          value.code === undefined
            ? defaults.code
            : typeof value.code === 'number' && value.code >= 400 && value.code < 600
              ? parseCode(value.code, value.code >= 500 ? 500 : 400, 'rejectRecipients.code')
              : parseCode(value.code, 500, 'rejectRecipients.code'),
        message: parseMessage(value.message, defaults.message, 'rejectRecipients.message'),
      };
    } else
      throw new FakeInputError('rejectRecipients must be false, a pattern or {pattern, code?, message?}');
  }
  if ('latencyMs' in input) {
    if (input.latencyMs === null || input.latencyMs === false) delete next.latencyMs;
    else next.latencyMs = nonNegativeInt(input.latencyMs, 'latencyMs');
  }
  return next;
}

/** Consumes one counted rejection (temporary first) and returns its reply, or undefined. */
export function takeRejection(faults: SmtpSinkFaults): { code: number; message: string } | undefined {
  for (const field of ['rejectTemporary', 'rejectPermanent'] as const) {
    const fault = faults[field];
    if (!fault) continue;
    spendFault(faults, field);
    return { code: fault.code, message: fault.message };
  }
  return undefined;
}
