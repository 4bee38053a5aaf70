import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { errorMessage } from './errors.js';
import { childTraceparent, newTraceparent } from './headers.js';
import { currentTraceparent, parseTraceparent, withTraceparent } from './tracing.js';

/**
 * OpenTelemetry for every service (docs/architecture.md, "Trace context"). Off unless `OTEL_EXPORTER_OTLP_ENDPOINT`
 * (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, or a test passes span processors: then nothing of the SDK is
 * loaded, nothing is patched, and every helper here is a plain call (no span objects, no context switches).
 *
 * When on, the spans are: RPC handling (SERVER, `tracing.ts`'s interceptor), each JetStream publish (PRODUCER,
 * whose span id is the `traceparent` the message carries), each task a worker runs (CONSUMER, child of its
 * command's `traceparent`), Postgres queries (`pg`), outgoing HTTP (node:http/https and fetch, so Graph, SIAL,
 * Moodle and token requests) and SMTP sends (nodemailer) — each CLIENT, child of the span in progress.
 */
let tracer: Tracer | undefined;
/** Exports the spans still buffered; set while telemetry runs. */
let flush: (() => Promise<void>) | undefined;

/** Exports the spans still buffered (called by `onShutdown` before the process exits); nothing when off. */
export async function flushTelemetry(): Promise<void> {
  await flush?.().catch(() => undefined);
}

/** Whether spans are recorded (telemetry was started). */
export function telemetryEnabled(): boolean {
  return tracer !== undefined;
}

/** Options of {@link initTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of the spans, e.g. `identity-teams`. */
  service: string;
  /** Environment; default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Processors to use instead of the OTLP exporter (tests: a SimpleSpanProcessor over an InMemorySpanExporter). */
  spanProcessors?: SpanProcessor[];
  /**
   * Module URLs or file paths from which `pg` and `nodemailer` are resolved to instrument them; default the service's
   * working directory. A service's main passes `import.meta.url`.
   */
  resolveFrom?: string[];
}

/** A started telemetry pipeline. */
export interface Telemetry {
  /** Exports what is pending and stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry tracing when configured (see the module comment); returns undefined, having loaded nothing,
 * when it is not. Call once, first thing in a service's main.
 */
export async function initTelemetry(options: TelemetryOptions): Promise<Telemetry | undefined> {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint && !options.spanProcessors?.length) return undefined;
  if (tracer) throw new Error('OpenTelemetry was already started in this process');
  const [{ NodeTracerProvider, BatchSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  let processors = options.spanProcessors ?? [];
  if (!processors.length) {
    // The exporter reads OTEL_EXPORTER_OTLP_* itself (endpoint, headers, timeout).
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processors = [new BatchSpanProcessor(new OTLPTraceExporter())];
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.service }),
    spanProcessors: processors,
  });
  provider.register();
  tracer = provider.getTracer('@lucy/platform');
  flush = () => provider.forceFlush();
  const { isTracingSuppressed } = await import('@opentelemetry/core');
  instrumentHttp(isTracingSuppressed);
  const bases = options.resolveFrom ?? [pathToFileURL(`${process.cwd()}/package.json`).href];
  // The pg that MikroORM loads (services do not depend on pg themselves).
  const orm = requireResolve(import.meta.url, '@mikro-orm/postgresql');
  instrumentPg(orm ? [orm, ...bases] : bases);
  await instrumentNodemailer(bases);
  return {
    async shutdown() {
      tracer = undefined;
      flush = undefined;
      await provider.shutdown();
    },
  };
}

/** Spans kept in memory (tests): see {@link recordSpansInMemory}. */
export interface MemoryTelemetry extends Telemetry {
  /** Every span ended so far. */
  spans(): ReadableSpan[];
}

/**
 * Starts telemetry that keeps every ended span in memory instead of exporting it (for tests: one trace of a whole
 * flow, in one process).
 */
export async function recordSpansInMemory(
  options: Omit<TelemetryOptions, 'spanProcessors' | 'env'>,
): Promise<MemoryTelemetry> {
  const { InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const exporter = new InMemorySpanExporter();
  const started = await initTelemetry({
    ...options,
    env: {},
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { shutdown: () => started!.shutdown(), spans: () => exporter.getFinishedSpans() };
}

/** The OTel context of a W3C traceparent (a remote parent), or the root context. */
function contextOf(traceparent: string | undefined): Context {
  const tp = parseTraceparent(traceparent);
  if (!tp) return ROOT_CONTEXT;
  const [, traceId, spanId, flags] = tp.split('-') as [string, string, string, string];
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16),
    isRemote: true,
  });
}

/** The W3C traceparent of a span (what the messages it publishes carry). */
function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The parent of a client span: the span in progress (OTel context), else the work's traceparent, else none. */
function activeParent(): Context | undefined {
  const active = context.active();
  if (trace.getSpan(active)) return active;
  const tp = currentTraceparent();
  return tp ? contextOf(tp) : undefined;
}

function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : errorMessage(err));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
  }
  span.end();
}

/** What a unit of work in a span gets: its traceparent (children continue it). */
export interface SpanScope {
  readonly traceparent: string;
  /** Adds attributes to the span (no-op without telemetry). */
  set(attributes: Attributes): void;
  /** Marks the span failed without throwing (no-op without telemetry). */
  fail(err: unknown): void;
}

/**
 * Runs `fn` as the work of a span that is a child of `parent` (a traceparent; none: a new trace), with the span's
 * traceparent as the work's trace context (`withTraceparent`), so spans and commands inside are its children. A
 * throw marks the span failed. Without telemetry: `fn` runs under a new child traceparent, as it always did.
 */
export async function inSpan<T>(
  name: string,
  kind: SpanKind,
  parent: string | undefined,
  attributes: Attributes,
  fn: (scope: SpanScope) => Promise<T>,
): Promise<T> {
  if (!tracer) {
    const traceparent = parent ? childTraceparent(parent) : newTraceparent();
    return withTraceparent(traceparent, () => fn({ traceparent, set: noop, fail: noop }));
  }
  const span = tracer.startSpan(name, { kind, attributes }, contextOf(parent));
  const traceparent = traceparentOf(span);
  const scope: SpanScope = {
    traceparent,
    set: (a) => span.setAttributes(a),
    fail: (err) => endSpanStatus(span, err),
  };
  try {
    const result = await context.with(trace.setSpan(contextOf(parent), span), () =>
      withTraceparent(traceparent, () => fn(scope)),
    );
    span.end();
    return result;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

const noop = () => undefined;

function endSpanStatus(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
}

/** A publish in progress: the traceparent its message carries, and the end of its span. */
export interface PublishSpan {
  readonly traceparent: string;
  end(err?: unknown): void;
}

const NO_END = () => undefined;

/**
 * Starts the PRODUCER span of a message about to be published to `subject`, child of `parent` (none: a new trace);
 * the message carries the span's traceparent. Without telemetry: a child traceparent, nothing else.
 */
export function startPublishSpan(subject: string, parent: string | undefined): PublishSpan {
  if (!tracer) return { traceparent: parent ? childTraceparent(parent) : newTraceparent(), end: NO_END };
  const span = tracer.startSpan(
    `publish ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': subject,
      },
    },
    contextOf(parent),
  );
  return { traceparent: traceparentOf(span), end: (err) => endSpan(span, err) };
}

/** Starts a CLIENT span under the work in progress; undefined when off, suppressed or outside any trace. */
function startClientSpan(name: string, attributes: Attributes): Span | undefined {
  if (!tracer) return undefined;
  const parent = activeParent();
  if (!parent) return undefined;
  return tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
}

let httpInstrumented = false;

/**
 * Outgoing HTTP through Node's diagnostics channels: `http.client.*` (node:http/https, which @azure/identity and the
 * Graph client's token requests use) and `undici:request:*` (fetch: Graph, SIAL, Moodle). The URL is recorded
 * without its query (Moodle's token travels there).
 */
function instrumentHttp(isTracingSuppressed: (c: Context) => boolean): void {
  if (httpInstrumented) return;
  httpInstrumented = true;
  const spans = new WeakMap<object, Span>();
  const start = (key: object, method: string, origin: string, path: string) => {
    if (!tracer || isTracingSuppressed(context.active())) return;
    let host = origin;
    try {
      host = new URL(origin).host;
    } catch {
      // keep the origin as given
    }
    const span = startClientSpan(`HTTP ${method}`, {
      'http.request.method': method,
      'server.address': host,
      'url.path': path.split('?')[0] ?? '',
    });
    if (span) spans.set(key, span);
  };
  const finish = (key: object, status?: number, err?: unknown) => {
    const span = spans.get(key);
    if (!span) return;
    spans.delete(key);
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (err === undefined && status !== undefined && status >= 500)
      span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
    endSpan(span, err);
  };
  subscribe('http.client.request.start', (m) => {
    const req = (m as { request: ClientRequest }).request;
    start(req, req.method, `${req.protocol}//${req.host}`, req.path);
    req.once('error', (err) => finish(req, undefined, err));
  });
  subscribe('http.client.response.finish', (m) => {
    const { request, response } = m as { request: ClientRequest; response: IncomingMessage };
    finish(request, response.statusCode);
  });
  type UndiciRequest = { method: string; origin: string; path: string };
  subscribe('undici:request:create', (m) => {
    const req = (m as { request: UndiciRequest }).request;
    start(req, req.method, req.origin, req.path);
  });
  subscribe('undici:request:headers', (m) => {
    const { request, response } = m as { request: object; response: { statusCode: number } };
    finish(request, response.statusCode);
  });
  subscribe('undici:request:error', (m) => {
    const { request, error } = m as { request: object; error: unknown };
    finish(request, undefined, error);
  });
}

function requireResolve(base: string, id: string): string | undefined {
  try {
    return createRequire(base).resolve(id);
  } catch {
    return undefined;
  }
}

/** Loads a CommonJS module as the service would, or undefined where it is not installed. */
function requireFrom<T>(bases: readonly string[], id: string): T | undefined {
  for (const base of bases) {
    try {
      return createRequire(base)(id) as T;
    } catch {
      // not resolvable from here
    }
  }
  return undefined;
}

const PATCHED = Symbol.for('lucy.otel.patched');

type QueryFn = (this: unknown, ...args: unknown[]) => unknown;

/** Postgres: every query of `pg` (under MikroORM and knex) as a CLIENT span of the work in progress. */
function instrumentPg(bases: readonly string[]): void {
  const pg = requireFrom<{ Client: { prototype: { query: QueryFn } & Record<symbol, unknown> } }>(
    bases,
    'pg',
  );
  const proto = pg?.Client.prototype;
  if (!proto || proto[PATCHED]) return;
  proto[PATCHED] = true;
  const original = proto.query;
  proto.query = function query(this: unknown, ...args: unknown[]) {
    const first = args[0] as { text?: unknown; submit?: unknown } | string | undefined;
    if (typeof first === 'object' && first && typeof first.submit === 'function')
      return original.apply(this, args);
    const text = typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : '';
    const span = startClientSpan(`pg ${text.split(/\s/, 1)[0]?.toLowerCase() || 'query'}`, {
      'db.system.name': 'postgresql',
      // Statements are parameterised (values travel apart), so the text holds no data; bounded in size.
      'db.query.text': text.slice(0, 500),
    });
    if (!span) return original.apply(this, args);
    const cb = args.findIndex((a) => typeof a === 'function');
    if (cb >= 0) {
      const callback = args[cb] as (...a: unknown[]) => unknown;
      args[cb] = function (this: unknown, err: unknown, ...rest: unknown[]) {
        endSpan(span, err ?? undefined);
        return callback.call(this, err, ...rest);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function')
      (result as Promise<unknown>).then(
        () => endSpan(span),
        (err: unknown) => endSpan(span, err),
      );
    else endSpan(span);
    return result;
  };
}

/**
 * SMTP: every `sendMail` of nodemailer as a CLIENT span of the work in progress. nodemailer 10 ships CommonJS and
 * ES module builds with a Mailer class each; both are patched (the services import the ES module one).
 */
async function instrumentNodemailer(bases: readonly string[]): Promise<void> {
  let cjs: string | undefined;
  for (const base of bases) cjs ??= requireResolve(base, 'nodemailer/lib/mailer');
  if (!cjs) return;
  type Mailer = { prototype: { sendMail: QueryFn } & Record<symbol, unknown> };
  patchMailer(createRequire(cjs)(cjs) as Mailer);
  const esm = cjs.replace(`${sep}dist${sep}cjs${sep}`, `${sep}dist${sep}esm${sep}`);
  if (esm !== cjs && existsSync(esm))
    patchMailer(((await import(pathToFileURL(esm).href)) as { default: Mailer }).default);
}

function patchMailer(Mailer: { prototype: { sendMail: QueryFn } & Record<symbol, unknown> }): void {
  const proto = Mailer.prototype;
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const original = proto.sendMail;
  proto.sendMail = function sendMail(this: unknown, ...args: unknown[]) {
    const options = (this as { transporter?: { options?: { host?: string; port?: number } } }).transporter
      ?.options;
    const span = startClientSpan('smtp send', {
      'network.protocol.name': 'smtp',
      ...(options?.host ? { 'server.address': options.host } : {}),
      ...(options?.port ? { 'server.port': options.port } : {}),
    });
    if (!span) return original.apply(this, args);
    const cb = args.findIndex((a) => typeof a === 'function');
    if (cb >= 0) {
      const callback = args[cb] as (...a: unknown[]) => unknown;
      args[cb] = function (this: unknown, err: unknown, ...rest: unknown[]) {
        endSpan(span, err ?? undefined);
        return callback.call(this, err, ...rest);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args) as Promise<unknown>;
    return result.then(
      (info) => {
        endSpan(span);
        return info;
      },
      (err: unknown) => {
        endSpan(span, err);
        throw err;
      },
    );
  };
}

export { SpanKind };
