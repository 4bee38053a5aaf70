/** Shared helpers of the fake's tests: a fake on the certificate the workers trust, a clock, plain HTTP calls. */
import { inject } from 'vitest';
import { createFakeGraph, type FakeGraph, type FakeGraphOptions } from './fake-graph.server.js';

/** A mutable clock starting now (tokens issued by the fake are checked by real clients against real time). */
export function makeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = Date.now();
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** Starts a fake serving the certificate the global setup made the workers trust. */
export function startFake(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const { cert, key } = inject('fakeGraphTls');
  return createFakeGraph({ tls: { cert, key }, ...options });
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

/** A Graph call with the fake's token (or `token`, `null` for none). */
export async function call(
  fake: FakeGraph,
  method: string,
  path: string,
  init: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...init.headers };
  const token = init.token === undefined ? fake.issueToken() : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${fake.graphUrl}${path}`, {
    method,
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
  };
}

/** The `error` object of a Graph error body. */
export const errorOf = (r: CallResult): { code: string; message: string; [k: string]: unknown } =>
  (r.body as { error: { code: string; message: string } }).error;

/** A valid create-user body for `alias` in the default verified domain. */
export function newUser(alias: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    accountEnabled: true,
    displayName: `Alumno ${alias}`,
    mailNickname: alias,
    userPrincipalName: `${alias}@alumnos.example.edu.ar`,
    passwordProfile: { forceChangePasswordNextSignIn: true, password: 'Xw9!kLm2pQ' },
    ...extra,
  };
}
