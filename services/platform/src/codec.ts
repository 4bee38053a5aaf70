import {
  create,
  fromBinary,
  toBinary,
  toJsonString,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { DecodeError } from './errors.js';
import { CONTENT_TYPE, parseContentType, type ContentType } from './headers.js';
import { fromFriendlyJson } from './json-decode.js';

/** Encodes a message as protobuf binary or the protobuf JSON mapping. */
export function encode<D extends DescMessage>(
  schema: D,
  message: MessageShape<D> | MessageInitShape<D>,
  contentType: ContentType = CONTENT_TYPE.protobuf,
): Uint8Array {
  const msg = isMessage(schema, message) ? message : create(schema, message);
  return contentType === CONTENT_TYPE.json
    ? new TextEncoder().encode(toJsonString(schema, msg))
    : toBinary(schema, msg);
}

/**
 * Decodes bytes according to a `Content-Type` header value (absent = protobuf). JSON is read as
 * {@link fromFriendlyJson} reads it: enum short names accepted, unknown fields rejected (a typo in another
 * system's field name is reported instead of silently dropped), errors naming field, value and accepted values.
 * @throws DecodeError with a readable reason.
 */
export function decode<D extends DescMessage>(
  schema: D,
  data: Uint8Array,
  contentTypeHeader: string | undefined,
): MessageShape<D> {
  const contentType = parseContentType(contentTypeHeader);
  if (!contentType) {
    throw new DecodeError(
      `unsupported Content-Type "${cut(contentTypeHeader ?? '', 80)}": use application/protobuf or application/json`,
    );
  }
  if (contentType === CONTENT_TYPE.json) {
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch (err) {
      throw new DecodeError('body is not valid UTF-8 JSON', { cause: err });
    }
    try {
      return fromFriendlyJson(schema, text.trim() === '' ? '{}' : text);
    } catch (err) {
      // Bounded: the reason goes to the dead letter, the failed Tarea and the log, whatever the sender wrote.
      throw new DecodeError(`invalid JSON for ${schema.typeName}: ${cut((err as Error).message, 1000)}`, {
        cause: err,
      });
    }
  }
  try {
    return fromBinary(schema, data, { readUnknownFields: false });
  } catch (err) {
    throw new DecodeError(`invalid protobuf for ${schema.typeName}: ${cut((err as Error).message, 1000)}`, {
      cause: err,
    });
  }
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isMessage<D extends DescMessage>(schema: D, m: unknown): m is MessageShape<D> {
  return typeof m === 'object' && m !== null && (m as { $typeName?: string }).$typeName === schema.typeName;
}
