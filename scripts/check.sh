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
# Integration test files mostly wait on NATS, Postgres and child processes, so a few more workers than cores pay
# off; LUCY_TEST_WORKERS overrides (1 runs the files one by one).
workers=${LUCY_TEST_WORKERS:-$(($(nproc) + 1))}
set +e
vitest run --maxWorkers="$workers" --minWorkers=1 --reporter=default --reporter=json --outputFile.json=.data/test-results.json
status=$?
set -e
node scripts/test-summary.mjs .data/test-results.json || status=1
exit $status
