// A NATS client of a hundred lines over node:net, as a system in another language would write one from the
// protocol documentation (https://docs.nats.io/reference/reference-protocols/nats-protocol): CONNECT, PUB/HPUB,
// SUB/UNSUB, MSG/HMSG, PING/PONG. JetStream is reached through its subjects ($JS.API.…, the reply of a publish).
// No NATS library of this repository is used, so the contract tests prove the guide, not our client code.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

export interface RawMsg {
  subject: string;
  reply?: string;
  headers: Record<string, string>;
  data: Buffer;
}

export interface RawNats {
  /** PUB or HPUB (when headers are given). */
  publish(subject: string, data: string | Buffer, headers?: Record<string, string>, reply?: string): void;
  /** Publishes with a reply inbox and resolves with the first reply (a JetStream ack, an API answer). */
  request(
    subject: string,
    data: string | Buffer,
    headers?: Record<string, string>,
    timeoutMs?: number,
  ): Promise<RawMsg>;
  subscribe(subject: string, onMsg: (m: RawMsg) => void): () => void;
  /** PING, resolved at its PONG: everything written before was processed by the server. */
  flush(): Promise<void>;
  /** `-ERR` lines the server sent (a permissions violation, say). */
  readonly errors: string[];
  close(): void;
}

export async function connectRawNats(
  url: string,
  auth: { user?: string; pass?: string; inboxPrefix?: string } = {},
): Promise<RawNats> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port || 4222) });
  let buf = Buffer.alloc(0);
  let nextSid = 1;
  const subs = new Map<string, (m: RawMsg) => void>();
  const pongs: (() => void)[] = [];
  const errors: string[] = [];
  let onInfo: ((line: string) => void) | undefined;
  let failed: ((err: Error) => void) | undefined;

  const write = (s: string | Buffer) => socket.write(s);
  const parseHeaders = (block: Buffer): Record<string, string> => {
    const out: Record<string, string> = {};
    const lines = block.toString('utf8').split('\r\n');
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    const status = /^NATS\/1\.0 (\d{3})/.exec(lines[0] ?? '');
    if (status) out[':status'] = status[1]!;
    return out;
  };

  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = buf.subarray(0, eol).toString('utf8');
      const [op, ...args] = line.split(' ');
      if (op === 'MSG' || op === 'HMSG') {
        const withHeaders = op === 'HMSG';
        const total = Number(args[args.length - 1]);
        const hdrLen = withHeaders ? Number(args[args.length - 2]) : 0;
        const end = eol + 2 + total + 2;
        if (buf.length < end) return; // wait for the payload
        const payload = buf.subarray(eol + 2, eol + 2 + total);
        const [subject, sid] = args as [string, string];
        const replyArgs = args.length - (withHeaders ? 4 : 3);
        const m: RawMsg = {
          subject,
          ...(replyArgs === 1 ? { reply: args[2]! } : {}),
          headers: withHeaders ? parseHeaders(payload.subarray(0, hdrLen)) : {},
          data: Buffer.from(payload.subarray(hdrLen)),
        };
        buf = buf.subarray(end);
        subs.get(sid)?.(m);
        continue;
      }
      buf = buf.subarray(eol + 2);
      if (op === 'PING') write('PONG\r\n');
      else if (op === 'PONG') pongs.shift()?.();
      else if (op === 'INFO') onInfo?.(line);
      else if (op === '-ERR') {
        errors.push(line);
        failed?.(new Error(line));
      }
    }
  });

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${url} within 5 s`));
    }, 5_000);
    const done = (err?: Error) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    socket.once('error', done);
    onInfo = () => {
      const connectOpts = {
        verbose: false,
        pedantic: false,
        headers: true,
        no_responders: true,
        protocol: 1,
        lang: 'raw-tcp',
        version: '0.0.1',
        name: 'contract-test',
        ...(auth.user ? { user: auth.user, pass: auth.pass } : {}),
      };
      write(`CONNECT ${JSON.stringify(connectOpts)}\r\nPING\r\n`);
      pongs.push(() => done());
      failed = done;
      onInfo = undefined;
    };
  });
  failed = undefined;

  const client: RawNats = {
    errors,
    publish(subject, data, headers, reply) {
      const body = typeof data === 'string' ? Buffer.from(data) : data;
      const r = reply ? ` ${reply}` : '';
      if (!headers) {
        write(
          Buffer.concat([Buffer.from(`PUB ${subject}${r} ${body.length}\r\n`), body, Buffer.from('\r\n')]),
        );
        return;
      }
      const hdr = Buffer.from(
        `NATS/1.0\r\n${Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('')}\r\n`,
      );
      write(
        Buffer.concat([
          Buffer.from(`HPUB ${subject}${r} ${hdr.length} ${hdr.length + body.length}\r\n`),
          hdr,
          body,
          Buffer.from('\r\n'),
        ]),
      );
    },
    subscribe(subject, onMsg) {
      const sid = String(nextSid++);
      subs.set(sid, onMsg);
      write(`SUB ${subject} ${sid}\r\n`);
      return () => {
        subs.delete(sid);
        write(`UNSUB ${sid}\r\n`);
      };
    },
    async request(subject, data, headers, timeoutMs = 10_000) {
      const inbox = `${auth.inboxPrefix ?? '_INBOX'}.${randomBytes(8).toString('hex')}`;
      return new Promise<RawMsg>((resolve, reject) => {
        const timer = setTimeout(() => {
          unsub();
          reject(new Error(`no reply on ${subject} within ${timeoutMs} ms`));
        }, timeoutMs);
        const unsub = client.subscribe(inbox, (m) => {
          clearTimeout(timer);
          unsub();
          resolve(m);
        });
        client.publish(subject, data, headers, inbox);
      });
    },
    flush() {
      return new Promise<void>((resolve) => {
        pongs.push(resolve);
        write('PING\r\n');
      });
    },
    close() {
      socket.destroy();
    },
  };
  return client;
}
