/**
 * A local SMTP sink: a real SMTP server (smtp-server) on loopback that accepts mail, parses each message with
 * mailparser and keeps it in memory for developers and tests, with optional AUTH, a size limit and fault switches.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { listen } from '@lucy/fake-kit';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { mergeFaults, takeRejection, type SmtpSinkFaults, type SmtpSinkFaultsInput } from './faults.js';

/** A mailbox: display name (may be empty) and address. */
export interface SinkAddress {
  name: string;
  address: string;
}

/** Metadata of an attachment (the content is only in the raw message). */
export interface SinkAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  contentId: string | null;
  /** `attachment`, `inline`, or null when the part had no Content-Disposition. */
  disposition: string | null;
  /** MD5 of the content, hex, as mailparser computes it. */
  checksum: string;
}

/** A received message, parsed. */
export interface SinkMessage {
  id: string;
  /** ISO 8601. */
  receivedAt: string;
  /** The SMTP envelope: `MAIL FROM` and every accepted `RCPT TO` (Bcc recipients included). */
  envelope: { from: string | null; to: string[] };
  /** The user that authenticated the session, if any. */
  authUser: string | null;
  from: SinkAddress | null;
  to: SinkAddress[];
  cc: SinkAddress[];
  replyTo: SinkAddress[];
  subject: string;
  messageId: string | null;
  /** The `Date:` header, ISO 8601. */
  date: string | null;
  text: string | null;
  html: string | null;
  /** Header values as sent (unfolded, not decoded), by lower-case name; repeated headers keep every value. */
  headers: Record<string, string[]>;
  attachments: SinkAttachment[];
  /** Size of the raw message in bytes. */
  size: number;
}

/** A log entry; only ids, addresses, subjects and codes, never bodies or credentials. */
export type SinkLogEntry = { level: 'info' | 'warn'; msg: string } & Record<string, unknown>;

/** Options of {@link createSmtpSink}. */
export interface SmtpSinkOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /**
   * Credentials the session must authenticate with (PLAIN or LOGIN) before `MAIL FROM`; wrong ones get 535.
   * Without them AUTH is optional and any credentials are accepted.
   */
  auth?: { user: string; password: string };
  /** Offer STARTTLS with smtp-server's built-in test certificate; default false. */
  starttls?: boolean;
  /** Largest accepted message in bytes (SIZE); bigger ones get 552; default 10 MiB. */
  sizeLimit?: number;
  /** Messages kept; the oldest is dropped beyond it; default 500. */
  maxMessages?: number;
  /** Host name in the greeting; default `fake-smtp`. */
  name?: string;
  /** Receives one entry per message, rejection and failed login. */
  logger?: (entry: SinkLogEntry) => void;
  /** Clock for `receivedAt`. */
  now?: () => Date;
}

/** A running sink. */
export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** Stored messages, oldest first. */
  messages(): SinkMessage[];
  /**
   * The newest stored messages that match, newest first, at most `limit` of them (copies), and how many match in
   * all — without copying the others (the HTTP API's list is polled, e.g. every 25 ms by a benchmark, while
   * hundreds of messages are stored).
   */
  query(predicate: (message: SinkMessage) => boolean, limit: number): { total: number; page: SinkMessage[] };
  message(id: string): SinkMessage | undefined;
  /** The raw RFC 5322 bytes of a stored message. */
  raw(id: string): Buffer | undefined;
  /**
   * Resolves with the first stored or incoming message that matches (oldest first).
   * @param timeoutMs default 5000; rejects when it passes.
   */
  waitFor(predicate: (message: SinkMessage) => boolean, timeoutMs?: number): Promise<SinkMessage>;
  /** Drops every message; returns how many. */
  clear(): number;
  /** Drops one message; false if unknown. */
  delete(id: string): boolean;
  /** Merges fault settings (see {@link SmtpSinkFaultsInput}); returns the resulting faults. */
  setFaults(faults: SmtpSinkFaultsInput): SmtpSinkFaults;
  clearFaults(): void;
  faults(): SmtpSinkFaults;
  /** Stops listening, drops open sessions and rejects pending `waitFor`s. */
  close(): Promise<void>;
}

/** An error whose `responseCode` smtp-server sends as the reply code. */
const smtpError = (code: number, message: string): Error =>
  Object.assign(new Error(message), { responseCode: code });

const addresses = (value: AddressObject | AddressObject[] | undefined): SinkAddress[] =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((group) =>
    group.value.flatMap((a) => (a.group ?? [a]).map((m) => ({ name: m.name, address: m.address ?? '' }))),
  );

function headerValues(parsed: ParsedMail): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { key, line } of parsed.headerLines) {
    const colon = line.indexOf(':');
    const text = line
      .slice(colon + 1)
      .replace(/\r?\n[ \t]+/g, ' ')
      .trim();
    (out[key] ??= []).push(text);
  }
  return out;
}

function toMessage(
  parsed: ParsedMail,
  meta: Pick<SinkMessage, 'id' | 'receivedAt' | 'envelope' | 'authUser' | 'size'>,
): SinkMessage {
  return {
    ...meta,
    from: addresses(parsed.from)[0] ?? null,
    to: addresses(parsed.to),
    cc: addresses(parsed.cc),
    replyTo: addresses(parsed.replyTo),
    subject: parsed.subject ?? '',
    messageId: parsed.messageId ?? null,
    date: parsed.date ? parsed.date.toISOString() : null,
    text: parsed.text ?? null,
    html: typeof parsed.html === 'string' ? parsed.html : null,
    headers: headerValues(parsed),
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? null,
      contentType: a.contentType,
      size: a.size,
      contentId: a.cid ?? null,
      disposition: a.contentDisposition ?? null,
      checksum: a.checksum,
    })),
  };
}

/**
 * Starts an SMTP sink on a real SMTP server.
 *
 * Without `auth`, AUTH is optional and accepts anything (like mailpit's accept-any); with it, PLAIN/LOGIN must
 * match before `MAIL FROM` (530 otherwise, 535 for wrong credentials). AUTH works without TLS on purpose.
 */
export async function createSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const now = options.now ?? (() => new Date());
  const maxMessages = options.maxMessages ?? 500;
  const sizeLimit = options.sizeLimit ?? 10 * 1024 * 1024;
  const log = options.logger ?? (() => undefined);
  const stored: SinkMessage[] = [];
  const raws = new Map<string, Buffer>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let faults: SmtpSinkFaults = {};
  let closed = false;

  const store = (message: SinkMessage, raw: Buffer): void => {
    stored.push(message);
    raws.set(message.id, raw);
    while (stored.length > maxMessages) {
      const dropped = stored.shift();
      if (dropped) raws.delete(dropped.id);
    }
    events.emit('message', message);
  };

  const serverOptions: SMTPServerOptions = {
    name: options.name ?? 'fake-smtp',
    banner: 'ESMTP fake-smtp (Lucy Tasks development sink)',
    logger: false,
    disableReverseLookup: true,
    size: sizeLimit,
    rejectOversized: true,
    closeTimeout: 500,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: !options.auth,
    disabledCommands: options.starttls ? [] : ['STARTTLS'],
    onAuth(auth, _session, callback) {
      const expected = options.auth;
      if (!expected) return callback(null, { user: auth.username ?? '' });
      if (auth.username === expected.user && auth.password === expected.password) {
        return callback(null, { user: auth.username });
      }
      log({
        level: 'warn',
        msg: 'smtp authentication failed',
        user: auth.username ?? null,
        method: auth.method,
      });
      return callback(smtpError(535, 'Error: authentication failed: authentication failure'));
    },
    onRcptTo(address, _session, callback) {
      const rule = faults.rejectRecipients;
      if (rule && new RegExp(rule.pattern, 'i').test(address.address)) {
        log({ level: 'info', msg: 'recipient rejected by fault', to: address.address, code: rule.code });
        return callback(smtpError(rule.code, `<${address.address}>: ${rule.message}`));
      }
      return callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const envelope = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        void (async () => {
          const wait = faults.latencyMs ?? 0;
          if (wait > 0) await delay(wait);
          if (stream.sizeExceeded) {
            log({ level: 'info', msg: 'message too big', to: envelope.to, bytes: stream.byteLength });
            return callback(smtpError(552, `Error: message exceeds fixed maximum message size ${sizeLimit}`));
          }
          const rejection = takeRejection(faults);
          if (rejection) {
            log({ level: 'info', msg: 'message rejected by fault', to: envelope.to, code: rejection.code });
            return callback(smtpError(rejection.code, rejection.message));
          }
          const raw = Buffer.concat(chunks);
          const parsed = await simpleParser(raw, { keepCidLinks: true, skipTextToHtml: true });
          const message = toMessage(parsed, {
            id: randomUUID(),
            receivedAt: now().toISOString(),
            envelope,
            authUser: typeof session.user === 'string' && session.user !== '' ? session.user : null,
            size: raw.length,
          });
          store(message, raw);
          log({
            level: 'info',
            msg: 'message received',
            id: message.id,
            from: envelope.from,
            to: envelope.to,
            subject: message.subject,
          });
          callback(null, `OK: queued as ${message.id}`);
        })().catch((err: unknown) => {
          log({ level: 'warn', msg: 'message could not be parsed', error: String(err) });
          callback(smtpError(451, '4.3.0 Error: could not process the message'));
        });
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', (err) => log({ level: 'warn', msg: 'smtp server error', error: String(err) }));

  const address = await listen(server.server, options.port, options.host);

  return {
    host: address.address,
    port: address.port,
    messages: () => structuredClone(stored),
    query(predicate, limit) {
      let total = 0;
      const page: SinkMessage[] = [];
      for (let i = stored.length - 1; i >= 0; i--) {
        const m = stored[i]!;
        if (!predicate(m)) continue;
        total++;
        if (page.length < limit) page.push(structuredClone(m));
      }
      return { total, page };
    },
    message: (id) => structuredClone(stored.find((m) => m.id === id)),
    raw: (id) => raws.get(id),
    waitFor(predicate, timeoutMs = 5000) {
      const existing = stored.find(predicate);
      if (existing) return Promise.resolve(structuredClone(existing));
      if (closed) return Promise.reject(new Error('the SMTP sink is closed'));
      return new Promise<SinkMessage>((resolve, reject) => {
        const cleanup = (): void => {
          clearTimeout(timer);
          events.off('message', onMessage);
          events.off('close', onClose);
        };
        const onMessage = (message: SinkMessage): void => {
          if (!predicate(message)) return;
          cleanup();
          resolve(structuredClone(message));
        };
        const onClose = (): void => {
          cleanup();
          reject(new Error('the SMTP sink was closed'));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no message matched within ${timeoutMs} ms`));
        }, timeoutMs);
        events.on('message', onMessage);
        events.on('close', onClose);
      });
    },
    clear() {
      const count = stored.length;
      stored.length = 0;
      raws.clear();
      return count;
    },
    delete(id) {
      const index = stored.findIndex((m) => m.id === id);
      if (index === -1) return false;
      stored.splice(index, 1);
      raws.delete(id);
      return true;
    },
    setFaults(input) {
      faults = mergeFaults(faults, input);
      return structuredClone(faults);
    },
    clearFaults() {
      faults = {};
    },
    faults: () => structuredClone(faults),
    close() {
      closed = true;
      events.emit('close');
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle client sessions would otherwise hold close() for closeTimeout.
        for (const connection of server.connections) connection.close();
      });
    },
  };
}
