/**
 * One trace from the click to the e-mail (issue 14): an activation enqueued over RPC, run by identity-teams' worker
 * against the Graph and Moodle fakes, its credential e-mail sent on to the notifier, which asks identity-teams for
 * the credential and sends it to the SMTP sink — every span of it, recorded in memory with OpenTelemetry, in one
 * trace whose parent links lead from the SMTP send back to the RPC. The notifier and the sink run in this process
 * (imported by path: they are other packages' sources, used here only as the next hops of the trace).
 */
import { SpanKind, recordSpansInMemory, type MemoryTelemetry } from '@lucy/platform';
import { testEnv, testLogger, waitFor } from '@lucy/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSmtpSink, type SmtpSink } from '../../fake-smtp/src/index.js';
import { loadConfig as loadNotifierConfig } from '../../notifier/src/config.js';
import { startNotifierService, type NotifierServiceHandle } from '../../notifier/src/service.js';
import { startHarness, type Harness } from './harness.js';

const ACTIVAR = 'alumnos.tasks.activar_servicios_alumno';

describe('OpenTelemetry across services', () => {
  let telemetry: MemoryTelemetry;
  let h: Harness;
  let sink: SmtpSink;
  let notifier: NotifierServiceHandle;

  beforeAll(async () => {
    telemetry = await recordSpansInMemory({
      service: 'lucy-trace-test',
      // nodemailer is the notifier's dependency: resolved from its package to instrument its sends.
      resolveFrom: [new URL('../../notifier/src/service.ts', import.meta.url).href, import.meta.url],
    });
    h = await startHarness({ label: 'identity_otel', aspirantes: 3 });
    sink = await createSmtpSink({ port: 0 });
    notifier = await startNotifierService(
      loadNotifierConfig(
        testEnv({
          DATABASE_URL: h.db.url,
          LUCY_PREFIX: h.t.prefix,
          MIGRATE_ON_START: 'true',
          SMTP_HOST: sink.host,
          SMTP_PORT: String(sink.port),
          SMTP_FROM: 'Facultad de Ciencias Económicas - UNRC <no-reply@v.eco.unrc.edu.ar>',
          IDENTITY_RPC_URL: h.service!.rpc.url,
          INGEST_RPC_URL: h.ingest.rpc.url,
        }),
      ),
      { logger: testLogger('notifier'), backoffMs: () => 200 },
    );
  }, 120_000);

  afterAll(async () => {
    await notifier?.stop();
    await h?.stop();
    await sink?.close();
    await telemetry?.shutdown();
  });

  it('records an activation as one trace: RPC, publish, task, Graph and Moodle over HTTP, Postgres, the sent-on e-mail task and its SMTP send', async () => {
    const alumno = h.alumnos.find((a) => a.emailPersonal !== '')!;
    const res = await h.identity.enqueue({ alumnoIds: [alumno.id], taskName: ACTIVAR, requestedBy: 'ana' });
    expect(res.resultados[0]?.estado, res.resultados[0]?.motivo).toBe('programada');
    const outcome = await h.waitOutcome(res.taskIds[0]!, 60_000);
    expect(outcome.kind).toBe('succeeded');
    await sink.waitFor((m) => m.envelope.to.includes(alumno.emailPersonal), 60_000);
    // A span is recorded when it ends: the e-mail task's ends once its outcome is reported, after the send.
    const smtp = await waitFor(
      () => {
        const ended = telemetry.spans();
        const done = ended.some((s) => /^process .*lucy\.cmd\.notify\.enviar_email$/.test(s.name));
        return done ? ended.find((s) => s.name === 'smtp send') : undefined;
      },
      { timeoutMs: 30_000, what: 'the SMTP span and its e-mail task' },
    );

    const spans = telemetry.spans();
    const enqueue = spans.find(
      (s) => s.kind === SpanKind.SERVER && s.name.endsWith('IdentityService/Enqueue'),
    );
    expect(enqueue, 'the Enqueue RPC span').toBeDefined();
    const traceId = enqueue!.spanContext().traceId;
    const trace = spans.filter((s) => s.spanContext().traceId === traceId);
    const byId = new Map(trace.map((s) => [s.spanContext().spanId, s]));
    const names = trace.map((s) => `${SpanKind[s.kind]} ${s.name}`);
    const has = (kind: SpanKind, pattern: RegExp) =>
      expect(
        trace.some((s) => s.kind === kind && pattern.test(s.name)),
        `${SpanKind[kind]} ${pattern.source} in ${names.join(', ')}`,
      ).toBe(true);

    has(SpanKind.PRODUCER, /^publish .*lucy\.cmd\.identity\.activar_servicios$/);
    has(SpanKind.CONSUMER, /^process lucy\.cmd\.identity\.activar_servicios$/);
    has(SpanKind.CLIENT, /^HTTP (GET|POST|PATCH)$/);
    has(SpanKind.CLIENT, /^pg /);
    has(SpanKind.PRODUCER, /^publish .*lucy\.evt\.task\.succeeded$/);
    has(SpanKind.PRODUCER, /^publish .*lucy\.cmd\.notify\.enviar_email$/);
    has(SpanKind.CONSUMER, /^process lucy\.cmd\.notify\.enviar_email$/);
    has(SpanKind.SERVER, /IdentityService\/ResolveCredential$/);
    expect(smtp.spanContext().traceId).toBe(traceId);
    expect(smtp.kind).toBe(SpanKind.CLIENT);

    // The SMTP send's ancestors, parent by parent, end at the RPC: one unbroken tree, not just a shared id.
    const chain: string[] = [];
    let at: (typeof trace)[number] | undefined = smtp;
    while (at) {
      chain.push(`${SpanKind[at.kind]} ${at.name}`);
      const parent: string | undefined = at.parentSpanContext?.spanId;
      at = parent ? byId.get(`${parent}`) : undefined;
    }
    expect(chain.at(-1)).toBe(`SERVER ${enqueue!.name}`);
    expect(chain).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^CONSUMER process lucy\.cmd\.notify\.enviar_email$/),
        expect.stringMatching(/^PRODUCER publish .*lucy\.cmd\.notify\.enviar_email$/),
        expect.stringMatching(/^CONSUMER process lucy\.cmd\.identity\.activar_servicios$/),
        expect.stringMatching(/^PRODUCER publish .*lucy\.cmd\.identity\.activar_servicios$/),
      ]),
    );
    // Moodle's token travels in the query or body; a span keeps the path only.
    for (const s of trace.filter((x) => x.name.startsWith('HTTP ')))
      expect(String(s.attributes['url.path'] ?? '')).not.toContain('?');
  }, 120_000);
});
