# Shared helpers of scripts/up.sh, scripts/test.sh and .ci/run. Sourced, not executed.
PNPM_VERSION=12.4.2

require_node() {
  if ! command -v node >/dev/null 2>&1; then
    echo "Node.js 20 is required: install it (for example 'apt-get install -y nodejs') and run again." >&2
    exit 1
  fi
  local major
  major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$major" != "20" ]; then
    echo "Node.js 20 is required (found $(node --version))." >&2
    exit 1
  fi
}

# Uses pnpm $PNPM_VERSION from PATH, else installs it once under .tools/ (no global changes).
ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    PNPM=pnpm
  else
    if [ ! -x .tools/node_modules/.bin/pnpm ] || [ "$(.tools/node_modules/.bin/pnpm --version)" != "$PNPM_VERSION" ]; then
      echo "==> Installing pnpm $PNPM_VERSION under .tools/"
      npm install --silent --no-audit --no-fund --prefix .tools "pnpm@$PNPM_VERSION" >/dev/null
    fi
    PNPM="$PWD/.tools/node_modules/.bin/pnpm"
  fi
  export PNPM
  export PATH="$(dirname "$PNPM"):$PATH"
  # The version is pinned on purpose: pnpm's "update available" box is noise in the up and test logs.
  export PNPM_CONFIG_UPDATE_NOTIFIER=false npm_config_update_notifier=false
}

port_open() { (echo >"/dev/tcp/$1/$2") >/dev/null 2>&1; }

# When no NATS answers and no nats-server binary exists, install Debian's package as root, else explain.
ensure_nats_server_binary_if_needed() {
  if [ -n "${NATS_URL:-}" ] || port_open 127.0.0.1 4222; then return 0; fi
  if command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; then return 0; fi
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing nats-server (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
  else
    echo "No NATS server answers on 127.0.0.1:4222 and nats-server is not installed." >&2
    echo "Install it with:  sudo apt-get install -y nats-server   (or set NATS_URL)" >&2
    exit 1
  fi
}
