#!/usr/bin/env bash
# Command one: brings the whole Lucy Tasks system up on this machine (see README "Quick start").
# Installs dependencies, finds or starts NATS and Postgres (or embedded PGlite), runs migrations, starts every
# service, the demo fakes and (once it exists) the admin, prints the URLs, and stops everything on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
require_node
ensure_pnpm
echo "==> Installing dependencies (pnpm $PNPM_VERSION)"
install_dependencies
ensure_nats_server_binary_if_needed
exec node scripts/dev.mjs "$@"
