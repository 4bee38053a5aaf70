#!/usr/bin/env bash
# Command two: runs every check and every test (unit and integration, against the real NATS and Postgres).
# Starts NATS and Postgres when they are installed but not running; installs them on a bare Debian as root.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
require_node
ensure_pnpm
echo "==> Installing dependencies"
install_dependencies
bash scripts/infra.sh
bash scripts/check.sh
