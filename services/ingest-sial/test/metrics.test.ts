import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TipoIngesta } from '@lucy/proto';
import { waitFor } from '@lucy/testkit';
import { startHarness, type Harness } from './harness.js';

const SIZES = { preinscriptos: 4, aspirantes: 6, ingresantes: 3 };

/** `/metrics` as a map from `name{k="v",…}` (labels sorted by name) to its value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    series.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return series;
}

/** A series key: `key('lucy_ingest_runs_total', { tipo: 'aspirantes', result: 'failed' })`. */
const key = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;

describe('ingest-sial metrics on /metrics', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ sizes: SIZES }, 'ingest_metrics');
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('counts runs by result, records by outcome, SIAL requests by status, and the last success', async () => {
    const before = await scrape(h.service.rpc.metricsUrl!);
    const moved = async () => {
      const after = await scrape(h.service.rpc.metricsUrl!);
      return (name: string, labels: Record<string, string> = {}) =>
        (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);
    };
    const personalBefore = h.fake.state().requests.personal;
    const startedAt = Date.now() / 1000;

    // A successful periodic run creates every aspirante.
    await h.openWindow(TipoIngesta.ASPIRANTES);
    const ok = await h.succeeded(await h.runPeriodic('aspirantes'));
    expect(ok.detalles).toMatchObject({ created: SIZES.aspirantes });
    // Outside its window (no start date), ingresantes is skipped.
    const skipped = await h.runPeriodic('ingresantes');
    await waitFor(async () => (await h.taskEvents(skipped, 'skipped')).length > 0, { what: 'skipped event' });
    // SIAL answers 500 to the list: the attempt fails and the task will be retried (not a failed task yet).
    h.fake.setFaults({ status500: { count: 1000, endpoints: 'list' } });
    await h.failed(await h.runPeriodic('aspirantes'));
    h.fake.clearFaults();
    // A well-formed answer of the wrong shape is permanent: that task has failed.
    h.fake.setFaults({ shape: { variant: 'not_array', endpoints: 'list' } });
    await h.failed(await h.runPeriodic('aspirantes'));
    h.fake.setFaults({ shape: false });
    // A manual dry run counts as such and adds no records.
    const { taskId } = await h.ingest.startIngesta({
      tipo: TipoIngesta.PREINSCRIPTOS,
      dryRun: true,
      requestedBy: 'admin',
    });
    await h.succeeded(taskId);
    const personal = h.fake.state().requests.personal - personalBefore;
    expect(personal).toBeGreaterThanOrEqual(SIZES.aspirantes);

    const delta = await moved();
    const aspirantes = { tipo: 'aspirantes' };
    expect(delta('lucy_ingest_runs_total', { ...aspirantes, result: 'succeeded' })).toBe(1);
    // Tasks once, when they end; attempts each.
    expect(delta('lucy_ingest_runs_total', { ...aspirantes, result: 'failed' })).toBe(1);
    expect(delta('lucy_ingest_attempts_total', { ...aspirantes, result: 'failed' })).toBe(2);
    expect(delta('lucy_ingest_attempts_total', { ...aspirantes, result: 'succeeded' })).toBe(1);
    expect(delta('lucy_ingest_attempts_total', { tipo: 'preinscriptos', result: 'dry_run' })).toBe(1);
    expect(delta('lucy_ingest_runs_total', { tipo: 'ingresantes', result: 'skipped' })).toBe(1);
    expect(delta('lucy_ingest_runs_total', { tipo: 'preinscriptos', result: 'dry_run' })).toBe(1);
    expect(delta('lucy_ingest_run_seconds_count', aspirantes)).toBe(3);
    expect(delta('lucy_ingest_run_seconds_count', { tipo: 'ingresantes' })).toBe(0);
    expect(delta('lucy_ingest_records_total', { ...aspirantes, outcome: 'creados' })).toBe(SIZES.aspirantes);
    expect(delta('lucy_ingest_records_total', { ...aspirantes, outcome: 'actualizados' })).toBe(0);
    expect(delta('lucy_ingest_records_total', { tipo: 'preinscriptos', outcome: 'creados' })).toBe(0);
    expect(delta('lucy_ingest_errors_total', { ...aspirantes, categoria: 'sial' })).toBe(0);
    // Four list requests (success, 500, wrong shape, dry run; no retries in the harness) and every personal-data
    // request.
    expect(delta('lucy_ingest_sial_requests_total', { endpoint: 'lista', status: '200' })).toBe(3);
    expect(delta('lucy_ingest_sial_requests_total', { endpoint: 'lista', status: '500' })).toBe(1);
    expect(delta('lucy_ingest_sial_requests_total', { endpoint: 'datospersonales', status: '200' })).toBe(
      personal,
    );
    expect(delta('lucy_ingest_sial_request_seconds_count', { endpoint: 'lista' })).toBe(4);
    const last = (await scrape(h.service.rpc.metricsUrl!)).get(
      key('lucy_ingest_last_success_timestamp_seconds', aspirantes),
    );
    expect(last).toBeGreaterThanOrEqual(startedAt);
    expect(last).toBeLessThanOrEqual(Date.now() / 1000);
    // A dry run is no ingestion: the last success of preinscriptos did not move.
    expect(delta('lucy_ingest_last_success_timestamp_seconds', { tipo: 'preinscriptos' })).toBe(0);
  });
});
