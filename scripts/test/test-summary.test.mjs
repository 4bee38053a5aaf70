import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '..', 'test-summary.mjs');

function summarise(report) {
  const file = join(mkdtempSync(join(tmpdir(), 'lucy-summary-')), 'report.json');
  writeFileSync(file, JSON.stringify(report));
  const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

const file = (name, status, assertions, ms = 1000, message = '') => ({
  name: `/repo/${name}`,
  status,
  startTime: 0,
  endTime: ms,
  message,
  assertionResults: assertions.map((s) => ({ status: s })),
});

describe('test summary', () => {
  it('counts one failed test once, however many describe blocks fail with it', () => {
    const r = summarise({
      numPassedTests: 664,
      numFailedTests: 1,
      numFailedTestSuites: 3,
      numPendingTests: 0,
      numTodoTests: 0,
      numTotalTests: 665,
      testResults: [
        file('a.test.ts', 'failed', ['passed', 'failed']),
        file('b.test.ts', 'passed', ['passed']),
      ],
    });
    expect(r.out).toContain('tests: 664 passed, 1 failed, 0 skipped');
    expect(r.status).toBe(1);
  });

  it('counts a file that failed before any test ran', () => {
    const r = summarise({
      numPassedTests: 3,
      numFailedTests: 0,
      numPendingTests: 1,
      numTodoTests: 0,
      numTotalTests: 4,
      testResults: [
        file('c.test.ts', 'failed', [], 50, 'Error: connect ECONNREFUSED 127.0.0.1:5432\n    at ...'),
        file('d.test.ts', 'passed', ['passed', 'passed', 'passed', 'skipped']),
      ],
    });
    expect(r.out).toContain('tests: 3 passed, 1 failed, 1 skipped');
    expect(r.out).toContain('failed before its tests ran: ');
    expect(r.out).toContain('ECONNREFUSED');
    expect(r.status).toBe(1);
  });

  it('lists the ten slowest files, slowest first, and passes a green run', () => {
    const results = Array.from({ length: 12 }, (_, i) =>
      file(`f${i}.test.ts`, 'passed', ['passed'], (i + 1) * 1000),
    );
    const r = summarise({ numPassedTests: 12, numFailedTests: 0, numTotalTests: 12, testResults: results });
    const listed = r.out.split('\n').filter((l) => /^\s+[\d.]+ s {2}/.test(l));
    expect(listed).toHaveLength(10);
    expect(listed[0]).toContain('12.0 s');
    expect(listed[0]).toContain('f11.test.ts');
    expect(r.out).not.toContain('f0.test.ts');
    expect(r.out).toContain('tests: 12 passed, 0 failed, 0 skipped');
    expect(r.status).toBe(0);
  });

  it('fails when no test ran', () => {
    const r = summarise({ numPassedTests: 0, numFailedTests: 0, numTotalTests: 0, testResults: [] });
    expect(r.out).toContain('no test ran');
    expect(r.status).toBe(1);
  });
});
