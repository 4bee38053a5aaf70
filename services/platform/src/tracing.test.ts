import { describe, expect, it } from 'vitest';
import { CONTENT_TYPE, H, newTraceparent } from './headers.js';
import { createNames } from './names.js';
import { createCommandPublisher } from './publisher.js';
import { currentTraceparent, parseTraceparent, traceIdOf, withTraceparent } from './tracing.js';
import type { JetStreamClient } from '@nats-io/jetstream';

// `prepare` only builds headers: no JetStream call is made, so no connection is needed.
const publisher = createCommandPublisher({} as JetStreamClient, createNames('t'));
const prepare = (traceparent?: string) =>
  publisher.prepare('lucy.cmd.notify.enviar_email', new Uint8Array(), CONTENT_TYPE.json, {
    taskType: 'alumnos.tasks.enviar_email_credenciales',
    requestedBy: 'ana@fce',
    trigger: 'admin',
    ...(traceparent ? { traceparent } : {}),
  });

describe('trace context', () => {
  it('accepts a W3C version-00 traceparent and refuses malformed or all-zero ones', () => {
    const tp = newTraceparent();
    expect(parseTraceparent(tp)).toBe(tp);
    expect(parseTraceparent(` ${tp.toUpperCase()} `)).toBe(tp);
    expect(traceIdOf(tp)).toBe(tp.slice(3, 35));
    for (const bad of [
      '',
      'nonsense',
      `01-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      `00-${'0'.repeat(32)}-${'b'.repeat(16)}-01`,
      `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`,
      `00-${'a'.repeat(31)}-${'b'.repeat(16)}-01`,
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });

  it('continues the current trace in commands published inside it, and starts a new one outside', () => {
    const outer = newTraceparent();
    const inside = withTraceparent(outer, () => prepare().headers.get(H.traceparent));
    expect(traceIdOf(inside)).toBe(traceIdOf(outer));
    expect(inside).not.toBe(outer);
    expect(currentTraceparent()).toBeUndefined();
    const outside = prepare().headers.get(H.traceparent);
    expect(traceIdOf(outside)).toBeDefined();
    expect(traceIdOf(outside)).not.toBe(traceIdOf(outer));
  });

  it('lets an explicit traceparent win over the current one', () => {
    const explicit = newTraceparent();
    const got = withTraceparent(newTraceparent(), () => prepare(explicit).headers.get(H.traceparent));
    expect(traceIdOf(got)).toBe(traceIdOf(explicit));
  });

  it('keeps the trace across awaits inside the context', async () => {
    const tp = newTraceparent();
    const seen = await withTraceparent(tp, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return currentTraceparent();
    });
    expect(seen).toBe(tp);
  });
});
