import { AsyncLocalStorage } from 'node:async_hooks';
import type { Interceptor } from '@connectrpc/connect';
import { H } from './headers.js';
import { inSpan, SpanKind } from './otel.js';

/**
 * The W3C trace context of the work in progress: set by the RPC server for each call (from the caller's
 * `traceparent` header, or a new trace) and by the consumer runner around each task (from the command's header),
 * so every command published meanwhile continues the same trace without each call site passing it on.
 */
const current = new AsyncLocalStorage<string>();

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The traceparent of the work in progress, if any. */
export function currentTraceparent(): string | undefined {
  return current.getStore();
}

/** Runs `fn` with `traceparent` as the trace context of everything it does (commands it publishes continue it). */
export function withTraceparent<T>(traceparent: string, fn: () => T): T {
  return current.run(traceparent, fn);
}

/** A valid version-00 traceparent, or undefined (an invalid or all-zero one is ignored, as W3C requires). */
export function parseTraceparent(value: string | null | undefined): string | undefined {
  const v = value?.trim().toLowerCase();
  const m = v ? TRACEPARENT.exec(v) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return v;
}

/** The 32-hex trace id of a traceparent, or undefined. */
export function traceIdOf(traceparent: string | null | undefined): string | undefined {
  return parseTraceparent(traceparent)?.slice(3, 35);
}

/**
 * Connect interceptor: each call runs in the caller's trace (its `traceparent` request header, as a child span)
 * or in a new one, and the answer carries the call's `traceparent` so a client can find the Tareas it caused
 * (ListTareas by trace id). With OpenTelemetry on (otel.ts) the call is a SERVER span and that is its traceparent.
 */
export function traceInterceptor(): Interceptor {
  return (next) => async (req) => {
    const incoming = parseTraceparent(req.header.get(H.traceparent));
    return inSpan(
      `${req.service.typeName}/${req.method.name}`,
      SpanKind.SERVER,
      incoming,
      { 'rpc.system': 'connect_rpc', 'rpc.service': req.service.typeName, 'rpc.method': req.method.name },
      async (span) => {
        const res = await next(req);
        res.header.set(H.traceparent, span.traceparent);
        return res;
      },
    );
  };
}

/**
 * Connect client interceptor: a call made inside a trace (an RPC being handled, a task) carries its `traceparent`,
 * so the service called continues the same trace.
 */
export function traceClientInterceptor(): Interceptor {
  return (next) => async (req) => {
    const tp = currentTraceparent();
    if (tp && !req.header.has(H.traceparent)) req.header.set(H.traceparent, tp);
    return next(req);
  };
}
