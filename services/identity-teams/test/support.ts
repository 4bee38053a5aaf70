/** Shared by the adapter tests: the fakes on port 0 (the Graph one on the certificate the workers trust) and a clock. */
import { createFakeGraph, type FakeGraph, type FakeGraphOptions } from '@lucy/fake-graph';
import { captureLogger as captureTestLogger, createVirtualClock, type VirtualClock } from '@lucy/testkit';
import { inject } from 'vitest';
import type { AdapterClock } from '../src/adapters/index.js';

/** A Graph fake serving the certificate vitest.global-setup.ts made the workers trust. */
export function startGraphFake(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const { cert, key } = inject('fakeGraphTls');
  return createFakeGraph({ port: 0, tls: { cert, key }, ...options });
}

/** The adapters' clock in tests: virtual sleeps, starting at the real time (the tokens the fakes issue are also
 * checked by real clients against real time). */
export type TestClock = VirtualClock & AdapterClock;
export const makeTestClock = (): TestClock => createVirtualClock(Date.now());

/** A platform logger whose lines are kept in `text()`. */
export const captureLogger = (): ReturnType<typeof captureTestLogger> =>
  captureTestLogger('identity-teams-test');

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
