/**
 * The REST server's two answer formats. JSON is PHP's `json_encode()` with default flags (non-ASCII as `\uXXXX`,
 * `/` as `\/`); XML is the `<RESPONSE>` / `<EXCEPTION>` document Moodle sends when `moodlewsrestformat` is absent or
 * not `json`.
 */
import type { MoodleException } from './errors.js';

/** `moodlewsrestformat`: anything but `json` answers XML, as Moodle's default. */
export type RestFormat = 'json' | 'xml';

/** `json_encode()` with PHP's default flags. */
export function phpJsonEncode(value: unknown): string {
  return JSON.stringify(value ?? null)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function xmlize(value: unknown): string {
  if (value === null || value === undefined) return '<VALUE null="null"/>\n';
  if (Array.isArray(value)) return `<MULTIPLE>\n${value.map(xmlize).join('')}</MULTIPLE>\n`;
  if (typeof value === 'object') {
    const keys = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `<KEY name="${escapeXml(k)}">${xmlize(v)}</KEY>\n`)
      .join('');
    return `<SINGLE>\n${keys}</SINGLE>\n`;
  }
  const text =
    typeof value === 'boolean'
      ? value
        ? '1'
        : '0'
      : typeof value === 'string' || typeof value === 'number'
        ? String(value)
        : '';
  return `<VALUE>${escapeXml(text)}</VALUE>\n`;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" ?>\n';

/** A successful answer body; `null` (functions that return nothing) is `null` in JSON, an empty RESPONSE in XML. */
export function formatResult(format: RestFormat, result: unknown): string {
  if (format === 'json') return phpJsonEncode(result);
  return `${XML_HEAD}<RESPONSE>\n${result === null ? '' : xmlize(result)}</RESPONSE>\n`;
}

/** An error body; `debuginfo` only when the site has debugging on. */
export function formatError(format: RestFormat, err: MoodleException, debug: boolean): string {
  const withDebug = debug && err.debuginfo !== undefined;
  if (format === 'json') {
    const body: Record<string, string> = {
      exception: err.exception,
      errorcode: err.errorcode,
      message: err.message,
    };
    if (withDebug) body.debuginfo = err.debuginfo ?? '';
    return phpJsonEncode(body);
  }
  return (
    `${XML_HEAD}<EXCEPTION class="${escapeXml(err.exception)}">\n` +
    `<ERRORCODE>${escapeXml(err.errorcode)}</ERRORCODE>\n` +
    `<MESSAGE>${escapeXml(err.message)}</MESSAGE>\n` +
    (withDebug ? `<DEBUGINFO>${escapeXml(err.debuginfo ?? '')}</DEBUGINFO>\n` : '') +
    '</EXCEPTION>\n'
  );
}

export const contentType = (format: RestFormat): string =>
  format === 'json' ? 'application/json' : 'application/xml; charset=utf-8';
