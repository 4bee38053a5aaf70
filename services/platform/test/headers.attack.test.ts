import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { header } from '../src/headers.js';
import { connectRawNats, type RawNats } from './contract/raw-nats.js';

// Lucy-Requested-By and the other Lucy headers come from whoever publishes a command, in any language: a raw
// client can put NUL or other control characters in a header value. What the runner reads from a header is shown
// to staff and stored (a NUL makes PostgreSQL refuse the Tarea's row on every redelivery), so it must be clean.

const URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
let raw: RawNats;

beforeAll(async () => {
  raw = await connectRawNats(URL);
});
afterAll(() => raw.close());

describe('a header value from a raw publisher', () => {
  it('is read without NUL or other control characters', async () => {
    const nc = await connect({ servers: URL });
    try {
      const subject = `lucy.test.headers.${randomBytes(6).toString('hex')}`;
      const got = new Promise<string | undefined>((resolve) => {
        nc.subscribe(subject, {
          max: 1,
          callback: (_e, m) => resolve(header(m.headers, 'Lucy-Requested-By')),
        });
      });
      await nc.flush();
      raw.publish(subject, '{}', { 'Lucy-Requested-By': 'rector\u0000\u001b[2Jx\u007f' });
      await raw.flush();
      expect(await got).toBe('rector[2Jx');
    } finally {
      await nc.close();
    }
  });

  it('is undefined when nothing but control characters remains', async () => {
    const nc = await connect({ servers: URL });
    try {
      const subject = `lucy.test.headers.${randomBytes(6).toString('hex')}`;
      const got = new Promise<string | undefined>((resolve) => {
        nc.subscribe(subject, {
          max: 1,
          callback: (_e, m) => resolve(header(m.headers, 'Lucy-Requested-By')),
        });
      });
      await nc.flush();
      raw.publish(subject, '{}', { 'Lucy-Requested-By': '\u0000\u0000' });
      await raw.flush();
      expect(await got).toBeUndefined();
    } finally {
      await nc.close();
    }
  });
});
