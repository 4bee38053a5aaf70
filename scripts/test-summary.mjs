#!/usr/bin/env node
// The closing lines of `npm test`, read from vitest's JSON report: the ten slowest test files (so the time budget
// is visible) and one line 'tests: N passed, N failed, N skipped' that says what happened. A failed test counts
// once, whatever describe blocks enclose it; a file that failed before any of its tests ran (an import or a
// beforeAll error) counts as one failure more. Exits 1 when nothing ran or anything failed.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2] ?? '.data/test-results.json', 'utf8'));
const files = report.testResults ?? [];

const slowest = files
  .map((f) => ({ name: relative(process.cwd(), f.name), ms: (f.endTime ?? 0) - (f.startTime ?? 0) }))
  .sort((a, b) => b.ms - a.ms)
  .slice(0, 10);
if (slowest.length > 0) {
  console.log('\nslowest test files:');
  for (const f of slowest) console.log(`  ${(f.ms / 1000).toFixed(1).padStart(6)} s  ${f.name}`);
}

let failed = report.numFailedTests ?? 0;
const brokenFiles = files.filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
);
failed += brokenFiles.length;
for (const f of brokenFiles) {
  const first = String(f.message ?? '').split('\n')[0];
  console.log(`failed before its tests ran: ${relative(process.cwd(), f.name)}${first ? ` (${first})` : ''}`);
}
const passed = report.numPassedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if ((report.numTotalTests ?? 0) === 0) {
  console.error('no test ran');
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
