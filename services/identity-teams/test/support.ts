/** Shared by the adapter tests: the fakes on port 0 (the Graph one on the certificate the workers trust) and a clock. */
import { Writable } from 'node:stream';
import { createFakeGraph, type FakeGraph, type FakeGraphOptions } from '@lucy/fake-graph';
import { createLogger, type Logger } from '@lucy/platform';
import { inject } from 'vitest';
import type { AdapterClock } from '../src/adapters/index.js';

/** A Graph fake serving the certificate vitest.global-setup.ts made the workers trust. */
export function startGraphFake(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const { cert, key } = inject('fakeGraphTls');
  return createFakeGraph({ port: 0, tls: { cert, key }, ...options });
}

/** A clock whose sleeps return at once and move time forward; `slept` lists every wait asked for. */
export interface TestClock extends AdapterClock {
  readonly slept: number[];
  advance(ms: number): void;
}

/** Starts at the real time: the tokens the fakes issue are also checked by real clients against real time. */
export function makeTestClock(): TestClock {
  let t = Date.now();
  const slept: number[] = [];
  return {
    slept,
    now: () => t,
    sleep: async (ms) => {
      slept.push(ms);
      t += ms;
    },
    advance: (ms) => void (t += ms),
  };
}

/** A platform logger (with its redaction) whose lines are kept in `text()`. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    logger: createLogger({ service: 'identity-teams-test', level: 'debug', destination }),
    text: () => chunks.join(''),
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => ({ ok: true as const }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  if (outcome.ok) throw new Error('expected a rejection');
  if (!(outcome.err instanceof Error)) throw new Error(`rejected with a non-Error: ${String(outcome.err)}`);
  return outcome.err;
}
