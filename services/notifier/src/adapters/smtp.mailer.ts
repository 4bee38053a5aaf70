/**
 * The SMTP mailer: a nodemailer transport built from the notifier's configuration and the SMTP AUTH credentials
 * in use (staff's from the admin's Configuración, else SMTP_USER/SMTP_PASSWORD). When the credentials change, the
 * next send builds a new transport (pool) that signs in with them; the old one finishes the e-mails it is sending
 * and is closed once it has none left. It never logs bodies (the credentials and reset e-mails carry temporary
 * passwords), subjects or the SMTP password; it logs message ids, recipients and reply codes.
 */
import { errorMessage, type Logger, PermanentError, type TransientError } from '@lucy/platform';
import { finished, PassThrough, type Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config.js';
import { createSendRateLimiter, type RateClock } from './send-rate.js';
import { classifySmtpError } from './smtp.errors.js';

/** One e-mail to send. */
export interface OutgoingEmail {
  /** One recipient or several. */
  to: string | readonly string[];
  /** Subject, any Unicode (encoded as RFC 2047 when needed). */
  subject: string;
  /** Plain-text body (the alternative of `html`, or the only part). */
  text: string;
  /** HTML body; sent as `multipart/alternative` with `text`. */
  html?: string | undefined;
  /** Extra headers, e.g. `X-Lucy-Task-Id`. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Sender overriding SMTP_FROM (e.g. the Configuración's sender), "Name <address>" or an address. */
  from?: string | undefined;
  /** Reply-To overriding SMTP_REPLY_TO. */
  replyTo?: string | undefined;
  /** The Message-ID header, `<left@domain>`; stable per Tarea so a resent copy is recognisable. */
  messageId?: string | undefined;
}

/** What the relay accepted. */
export interface SendResult {
  /** The Message-ID header of the sent message, e.g. `<uuid@v.eco.unrc.edu.ar>`. */
  messageId: string;
  /** Recipients the relay accepted. */
  accepted: string[];
  /** Recipients the relay refused while others were accepted (the message went to the rest). */
  rejected: string[];
  /** The relay's last reply, e.g. `250 OK: queued as …`. */
  response: string;
}

/** An outbound mailer. */
export interface Mailer {
  /**
   * Sends one e-mail.
   * @throws TransientError on 4xx replies, refused/reset connections and timeouts (retry later).
   * @throws PermanentError on 5xx replies, every recipient refused, or rejected credentials/TLS (configuration).
   */
  send(email: OutgoingEmail): Promise<SendResult>;
  /** Connects, negotiates TLS and authenticates without sending; throws like {@link Mailer.send}. */
  verify(): Promise<void>;
  /** Closes pooled connections. */
  close(): void;
}

/** SMTP AUTH credentials and where they come from. */
export interface SmtpCredentials {
  user: string;
  /** In clear: never logged, stored unsealed or returned by an RPC. */
  password: string;
  /** `personal`: set by staff in the admin's Configuración; `despliegue`: SMTP_USER/SMTP_PASSWORD. */
  origin: 'personal' | 'despliegue';
}

/** The deployment's credentials (SMTP_USER/SMTP_PASSWORD), or undefined for a relay without AUTH. */
export function deploymentCredentials(config: SmtpConfig): SmtpCredentials | undefined {
  return config.SMTP_USER !== undefined && config.SMTP_PASSWORD !== undefined
    ? { user: config.SMTP_USER, password: config.SMTP_PASSWORD, origin: 'despliegue' }
    : undefined;
}

/** Options of {@link createSmtpMailer}. */
export interface SmtpMailerOptions {
  /** SMTP configuration (see `loadSmtpConfig`). */
  config: SmtpConfig;
  /**
   * The credentials to sign in with, read at each send (default: the deployment's). A different answer than the
   * previous send's rebuilds the transport.
   */
  credentials?: (() => SmtpCredentials | undefined) | undefined;
  /** Logger; ids, recipients and reply codes only. */
  logger?: Logger | undefined;
  /** Clock of the send rate limit (SMTP_RATE_PER_MINUTE); tests inject a virtual one. */
  rateClock?: RateClock | undefined;
}

type TransportOptions = Parameters<typeof nodemailer.createTransport>[0];

/**
 * The nodemailer transport options for a configuration (exported for tests).
 * @param credentials SMTP AUTH; undefined: the deployment's (SMTP_USER/SMTP_PASSWORD); null: none.
 */
export function smtpTransportOptions(
  config: SmtpConfig,
  credentials?: SmtpCredentials | null,
): TransportOptions {
  const auth = credentials === undefined ? deploymentCredentials(config) : (credentials ?? undefined);
  const tlsPolicy =
    config.SMTP_SECURE || config.SMTP_STARTTLS === 'opportunistic'
      ? {}
      : config.SMTP_STARTTLS === 'required'
        ? { requireTLS: true }
        : { ignoreTLS: true };
  const base = {
    host: config.SMTP_HOST,
    port: config.SMTP_PORT,
    secure: config.SMTP_SECURE,
    ...tlsPolicy,
    tls: { rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED },
    ...(auth ? { auth: { user: auth.user, pass: auth.password } } : {}),
    ...(config.SMTP_DKIM_DOMAIN && config.SMTP_DKIM_SELECTOR && config.SMTP_DKIM_PRIVATE_KEY
      ? {
          dkim: {
            domainName: config.SMTP_DKIM_DOMAIN,
            keySelector: config.SMTP_DKIM_SELECTOR,
            privateKey: config.SMTP_DKIM_PRIVATE_KEY,
          },
        }
      : {}),
    connectionTimeout: config.SMTP_CONNECTION_TIMEOUT_MS,
    greetingTimeout: config.SMTP_GREETING_TIMEOUT_MS,
    socketTimeout: config.SMTP_SOCKET_TIMEOUT_MS,
    // nodemailer's own logging would include the message source (and so the temporary passwords).
    logger: false,
    debug: false,
    transactionLog: false,
  };
  if (!config.SMTP_POOL) return base;
  // The rate limit is the mailer's own (evenly spaced), not nodemailer's burst-then-pause one.
  return {
    ...base,
    pool: true as const,
    maxConnections: config.SMTP_MAX_CONNECTIONS,
    maxMessages: config.SMTP_MAX_MESSAGES_PER_CONNECTION,
  };
}

// nodemailer lists recipients as strings, or as `{ address }` objects when they had display names.
const addressList = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map((a: unknown) => {
        if (typeof a === 'string') return a;
        const address = (a as { address?: unknown } | null)?.address;
        return typeof address === 'string' ? address : JSON.stringify(a);
      })
    : [];

/**
 * The message stream as one chunk. nodemailer writes each piece of the MIME tree to the socket as it is produced —
 * ten write system calls for a credentials e-mail (headers, boundaries, each part), the largest cost of a send on a
 * loopback relay; the whole message is written at once instead (a credentials e-mail is a few KB).
 */
export function wholeMessage(input: Readable): Readable {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  input.on('data', (chunk: Buffer | string) =>
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)),
  );
  // Ended, failed, or closed early (destroyed without an error): the send ends with it, never waits.
  finished(input, (err) => (err ? out.destroy(err) : out.end(Buffer.concat(chunks))));
  return out;
}

/**
 * Creates the SMTP mailer. Every message carries `Auto-Submitted: auto-generated` (RFC 3834) so vacation
 * responders do not answer the no-reply sender.
 */
export function createSmtpMailer(options: SmtpMailerOptions): Mailer {
  const { config, logger } = options;
  const provide = options.credentials ?? (() => deploymentCredentials(config));
  const rate = createSendRateLimiter(config.SMTP_RATE_PER_MINUTE, options.rateClock);

  // One transport per set of credentials. `sending` counts the sends started on it; a retired one (its
  // credentials were replaced) is closed when the last of them ends, so no e-mail in flight is cut or queued on a
  // closed pool (nodemailer fails those), and the next e-mails go through the new one.
  interface Pool {
    transport: ReturnType<typeof nodemailer.createTransport>;
    credentials: SmtpCredentials | undefined;
    sending: number;
    retired: boolean;
  }
  const build = (credentials: SmtpCredentials | undefined): Pool => {
    const transport = nodemailer.createTransport(smtpTransportOptions(config, credentials ?? null));
    // The composed message reaches the connection as one buffer (then DKIM, when configured, signs it).
    transport.use('stream', (mail, done) => {
      mail.message.processFunc(wholeMessage);
      done();
    });
    return { transport, credentials, sending: 0, retired: false };
  };
  const same = (a: SmtpCredentials | undefined, b: SmtpCredentials | undefined) =>
    a === b ||
    (a !== undefined &&
      b !== undefined &&
      a.user === b.user &&
      a.password === b.password &&
      a.origin === b.origin);
  const release = (pool: Pool) => {
    if (pool.retired && pool.sending === 0) pool.transport.close();
  };
  let closed = false;
  let pool = build(provide());
  /** The transport for the credentials in use now, rebuilt when they changed since the last send. */
  const current = (): Pool => {
    const credentials = provide();
    if (closed || same(credentials, pool.credentials)) return pool;
    const old = pool;
    pool = build(credentials);
    old.retired = true;
    release(old);
    logger?.info(
      { smtpUser: credentials?.user ?? null, origin: credentials?.origin ?? '', draining: old.sending },
      'smtp credentials changed; new e-mails use a new connection pool',
    );
    return pool;
  };
  const fail = (err: unknown, action: string, used: Pool): TransientError | PermanentError => {
    const classified = classifySmtpError(err, used.credentials?.user, used.credentials?.origin);
    logger?.warn(
      {
        action,
        code: classified.code,
        retriable: !(classified instanceof PermanentError),
        smtpCode: (err as { responseCode?: unknown } | null)?.responseCode,
        reason: errorMessage(classified),
      },
      `smtp ${action} failed`,
    );
    return classified;
  };

  return {
    async send(email) {
      const to = typeof email.to === 'string' ? [email.to] : [...email.to];
      let info: { messageId?: unknown; accepted?: unknown; rejected?: unknown; response?: unknown };
      const replyTo = email.replyTo ?? config.SMTP_REPLY_TO;
      await rate.acquire();
      const used = current();
      used.sending++;
      try {
        info = (await used.transport.sendMail({
          from: email.from ?? config.SMTP_FROM,
          ...(replyTo !== undefined ? { replyTo } : {}),
          ...(email.messageId !== undefined ? { messageId: email.messageId } : {}),
          to,
          subject: email.subject,
          text: email.text,
          ...(email.html !== undefined ? { html: email.html } : {}),
          headers: { 'Auto-Submitted': 'auto-generated', ...email.headers },
        })) as typeof info;
      } catch (err) {
        throw fail(err, 'send', used);
      } finally {
        used.sending--;
        release(used);
      }
      const result: SendResult = {
        messageId: typeof info.messageId === 'string' ? info.messageId : '',
        accepted: addressList(info.accepted),
        rejected: addressList(info.rejected),
        response: typeof info.response === 'string' ? info.response : '',
      };
      logger?.info(
        { messageId: result.messageId, accepted: result.accepted, rejected: result.rejected },
        result.rejected.length > 0 ? 'e-mail sent, some recipients refused' : 'e-mail sent',
      );
      return result;
    },
    async verify() {
      const used = current();
      used.sending++;
      try {
        await used.transport.verify();
      } catch (err) {
        throw fail(err, 'verify', used);
      } finally {
        used.sending--;
        release(used);
      }
      logger?.debug({ host: config.SMTP_HOST, port: config.SMTP_PORT }, 'smtp relay verified');
    },
    close() {
      // Called after the worker drained. A retired pool still sending closes when its last e-mail ends.
      closed = true;
      pool.retired = true;
      pool.transport.close();
    },
  };
}
