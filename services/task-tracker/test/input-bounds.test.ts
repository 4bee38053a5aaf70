import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { createRpcClient } from '@lucy/platform';
import { BadRequestSchema, LogService, TaskService } from '@lucy/proto';
import { TEST_TOKEN } from '@lucy/testkit';
import { startHarness, type TrackerHarness } from './helpers.js';

/** The error of a call that must fail, with its violations. */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    const ce = ConnectError.from(err);
    const violations = ce.findDetails(BadRequestSchema).flatMap((d) => d.violations);
    return {
      code: ce.code,
      fields: violations.map((v) => v.field),
      text: `${ce.rawMessage} ${violations.map((v) => v.description).join(' ')}`,
    };
  }
  throw new Error('expected the call to fail');
}

const token = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('task-tracker input bounds', () => {
  let h: TrackerHarness;
  let tasks: ReturnType<typeof createRpcClient<typeof TaskService>>;
  let logs: ReturnType<typeof createRpcClient<typeof LogService>>;

  beforeAll(async () => {
    h = await startHarness();
    const options = { baseUrl: h.tracker.rpc.url, token: TEST_TOKEN };
    tasks = createRpcClient(TaskService, options);
    logs = createRpcClient(LogService, options);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers a cursor with a non-UUID id or a non-ISO instant with InvalidArgument, never Internal', async () => {
    for (const pageToken of [
      token(['2026-12-01T00:00:00.000Z', 'no-es-un-uuid']),
      token(['1', '0190b1c2-0000-7000-8000-000000000001']),
      'basura!!',
    ]) {
      for (const call of [
        () => tasks.listTareas({ page: { pageToken } }),
        () => logs.listLogs({ page: { pageToken } }),
      ]) {
        const e = await refusal(call());
        expect(e.code).toBe(Code.InvalidArgument);
        expect(e.fields).toEqual(['page.pageToken']);
      }
    }
    const long = await refusal(tasks.listTareas({ page: { pageToken: 'a'.repeat(5000) } }));
    expect(long.fields).toEqual(['page.page_token']);
    expect(long.text).toContain('El token de página admite como máximo 200 caracteres');
  });

  it('refuses a search longer than 200 characters at once, and NUL bytes in any filter', async () => {
    const t0 = Date.now();
    const search = await refusal(tasks.listTareas({ filter: { search: 'x'.repeat(3_000_000) } }));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(search.code).toBe(Code.InvalidArgument);
    expect(search.fields).toEqual(['filter.search']);
    expect(search.text).toContain('La búsqueda admite como máximo 200 caracteres (tiene 3000000)');
    expect(search.text.length).toBeLessThan(2000);
    const logSearch = await refusal(logs.listLogs({ search: 'y'.repeat(300) }));
    expect(logSearch.fields).toEqual(['search']);
    const nul = await refusal(tasks.listTareas({ filter: { requestedBy: 'ana\u0000' } }));
    expect(nul.fields).toEqual(['filter.requested_by']);
    expect(nul.text).toContain('El usuario contiene caracteres no válidos');
    const alumno = await refusal(logs.listLogs({ alumnoId: 'z'.repeat(65) }));
    expect(alumno.fields).toEqual(['alumno_id']);
  });

  it('refuses an overflowing dead-letter token and a zero sequence', async () => {
    for (const pageToken of ['99999999999999999999', '1e3', '-1', '12abc']) {
      const e = await refusal(tasks.listDeadLetters({ page: { pageToken } }));
      expect(e.code, pageToken).toBe(Code.InvalidArgument);
      expect(e.fields).toEqual(['page.pageToken']);
    }
    const zero = await refusal(tasks.redriveDeadLetters({ sequences: [0n] }));
    expect(zero.fields).toEqual(['sequences[0]']);
  });

  it('serves a dead-letter page token past the end with a handful of NATS requests', async () => {
    const { js } = h.nats.handles;
    for (let i = 0; i < 3; i++) {
      await js.publish(h.nats.names.dlq('lucy.cmd.ingest.ingestar_alumnos'), new TextEncoder().encode('{}'));
    }
    const nc = h.tracker.runtime.nats.nc;
    const before = nc.stats().outMsgs;
    const page = await tasks.listDeadLetters({ page: { pageToken: '9000000000000', pageSize: 500 } });
    const sent = nc.stats().outMsgs - before;
    expect(page.deadLetters.length).toBe(3);
    expect(sent).toBeLessThan(30);
  });
});
