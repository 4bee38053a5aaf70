#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to read: format, lint, typecheck, contracts, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

step "Format (prettier --check)"
prettier --check --log-level warn .

step "Lint (eslint, type-aware)"
eslint --max-warnings=0 .

step "Typecheck (tsc --noEmit, every package)"
pnpm -r --no-sort --workspace-concurrency=2 typecheck

step "Contracts (buf lint, and generated code up to date)"
pnpm --filter @lucy/proto lint
pnpm --filter @lucy/proto gen
if ! git diff --quiet -- proto/src; then
  echo "Generated code in proto/src differs from what buf generates: run 'pnpm proto:gen' and commit." >&2
  git --no-pager diff --stat -- proto/src >&2
  exit 1
fi

step "Tests (vitest: unit and integration against the real NATS and Postgres)"
mkdir -p .data
set +e
vitest run --reporter=default --reporter=json --outputFile.json=.data/test-results.json
status=$?
set -e
node -e '
const r = require("./.data/test-results.json");
// A file that fails before its tests run (a beforeAll error) counts as a failure too.
const passed = r.numPassedTests, failed = r.numFailedTests + r.numFailedTestSuites;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1); }
' || status=1
exit $status
