// The short fault run in CI: the whole system (its own NATS and Postgres, every service compiled and in its own
// process, two scheduler replicas, the fakes) under a mixed workload while every kind of fault is injected once, in
// the order a fixed seed gives (FAULTS_SEED replays another); then every invariant is checked against the sources
// of truth. The data and logs of a failing run are kept and their folder printed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_FAULTS, runFaultSuite } from './suite.js';

const SEED = Number(process.env.FAULTS_SEED ?? 21);

describe('the whole system under faults (short run)', () => {
  it(`keeps every invariant through one fault of each kind (seed ${SEED})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `lucy-faults-${SEED}-`));
    const report = await runFaultSuite({
      seed: SEED,
      dir,
      faultWindowMs: 60_000,
      sialSize: 40,
      scheduleEverySeconds: 10,
      outageMs: 5_000,
      drainTimeoutMs: 120_000,
      recoveryTimeoutMs: 110_000,
      stepMs: 1_500,
      identityAckWaitMs: 20_000,
    });
    writeFileSync(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    const failed = report.invariants.filter((i) => !i.ok);
    if (failed.length > 0) process.stderr.write(`[faults] run kept in ${dir} (report.json, logs/)\n`);
    expect(new Set(report.faults.map((f) => f.kind))).toEqual(new Set(ALL_FAULTS));
    expect(failed).toEqual([]);
    expect(report.tasks.total).toBeGreaterThan(100);
    rmSync(dir, { recursive: true, force: true });
  });
});
