import { describe, expect, it } from 'vitest';
import { initTelemetry, inSpan, SpanKind, startPublishSpan, telemetryEnabled } from './otel.js';
import { currentTraceparent, traceIdOf } from './tracing.js';

describe('OpenTelemetry when no endpoint is configured', () => {
  it('loads nothing and leaves the trace context as it was: child traceparents of the same trace', async () => {
    expect(await initTelemetry({ service: 'test', env: {} })).toBeUndefined();
    expect(telemetryEnabled()).toBe(false);
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const publish = startPublishSpan('lucy.cmd.x.y', parent);
    expect(traceIdOf(publish.traceparent)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(publish.traceparent).not.toBe(parent);
    const seen = await inSpan('work', SpanKind.SERVER, parent, {}, async (span) => {
      span.set({ ignored: true });
      return { inside: currentTraceparent(), own: span.traceparent };
    });
    expect(seen.inside).toBe(seen.own);
    expect(traceIdOf(seen.own)).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});
