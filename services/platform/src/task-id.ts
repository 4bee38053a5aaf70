import { fillRandom } from './random.js';

/** A new UUIDv7 (time-ordered), as used for task ids and log ids. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = fillRandom(Buffer.allocUnsafe(16));
  writeTimestamp(bytes, now);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  return format(bytes);
}

/**
 * A UUIDv7 derived deterministically from a JetStream delivery, for commands published without a
 * `Lucy-Task-Id` header (other systems may omit it): every consumer of the same stream message (the worker and
 * task-tracker) derives the same id from the stream name, sequence and timestamp.
 */
export function taskIdFromDelivery(stream: string, streamSequence: number, timestampMs: number): string {
  const bytes = Buffer.alloc(16);
  writeTimestamp(bytes, timestampMs);
  // 74 bits of "random" space filled with a hash of the stream name and the sequence.
  let h = 0x811c9dc5;
  for (const ch of stream) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  bytes.writeUInt16BE(h & 0x0fff, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes.writeUInt16BE(((h >>> 16) & 0x3fff) | 0x8000, 8);
  // 48 bits of the sequence.
  bytes.writeUIntBE(streamSequence % 2 ** 48, 10, 6);
  return format(bytes);
}

/** Whether a string is a UUID (any version) in canonical form. */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

function writeTimestamp(bytes: Buffer, ms: number): void {
  bytes.writeUIntBE(Math.max(0, Math.floor(ms)) % 2 ** 48, 0, 6);
}

function format(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
