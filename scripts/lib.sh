# Shared helpers of scripts/up.sh, scripts/test.sh and .ci/run. Sourced, not executed.
# pnpm's version and sha512 come from package.json's "packageManager" (pnpm@<version>+sha512.<hex>, the form
# corepack checks): one place to change when pnpm is upgraded (`npm view pnpm@<v> dist.integrity`, base64 → hex).
PACKAGE_MANAGER=$(node -p 'require("./package.json").packageManager' 2>/dev/null || true)
PNPM_VERSION=${PACKAGE_MANAGER#pnpm@}
PNPM_VERSION=${PNPM_VERSION%%+*}
PNPM_SHA512=${PACKAGE_MANAGER##*+sha512.}

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

# Downloads pnpm's tarball, checks its sha512 against package.json and installs it under .tools/; stops on a
# mismatch, before anything from the tarball runs.
install_pnpm_verified() {
  if [ -z "$PNPM_VERSION" ] || ! [[ "$PNPM_SHA512" =~ ^[0-9a-f]{128}$ ]]; then
    echo "package.json \"packageManager\" must be pnpm@<version>+sha512.<128 hex digits> (found '$PACKAGE_MANAGER')." >&2
    exit 1
  fi
  echo "==> Installing pnpm $PNPM_VERSION under .tools/ (sha512 checked)"
  local dir tarball actual
  dir=$(mktemp -d)
  if ! npm pack --silent --pack-destination "$dir" "pnpm@$PNPM_VERSION" >/dev/null; then
    rm -rf "$dir"
    echo "Could not download pnpm $PNPM_VERSION from the npm registry." >&2
    exit 1
  fi
  tarball=$(ls "$dir"/pnpm-*.tgz)
  actual=$(sha512sum "$tarball" | cut -d' ' -f1)
  if [ "$actual" != "$PNPM_SHA512" ]; then
    rm -rf "$dir"
    echo "The pnpm $PNPM_VERSION tarball does not match package.json's sha512; not installing it." >&2
    echo "  expected $PNPM_SHA512" >&2
    echo "  got      $actual" >&2
    exit 1
  fi
  mkdir -p .tools
  if ! npm install --silent --no-audit --no-fund --prefix .tools "$tarball" >/dev/null; then
    rm -rf "$dir"
    echo "Installing pnpm $PNPM_VERSION under .tools/ failed." >&2
    exit 1
  fi
  rm -rf "$dir"
}

# Uses pnpm $PNPM_VERSION from PATH, else installs it once under .tools/ (no global changes).
ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then
    PNPM=pnpm
  else
    if [ ! -x .tools/node_modules/.bin/pnpm ] || [ "$(.tools/node_modules/.bin/pnpm --version)" != "$PNPM_VERSION" ]; then
      install_pnpm_verified
    fi
    PNPM="$PWD/.tools/node_modules/.bin/pnpm"
  fi
  export PNPM
  export PATH="$(dirname "$PNPM"):$PATH"
  # The version is pinned on purpose: pnpm's "update available" box is noise in the up and test logs.
  export PNPM_CONFIG_UPDATE_NOTIFIER=false npm_config_update_notifier=false
}

# `pnpm install --frozen-lockfile` with its progress lines filtered out; a failed install (lockfile out of date,
# integrity mismatch, registry down) stops the script with pnpm's exit status instead of passing silently.
install_dependencies() {
  local statuses=()
  { "$PNPM" install --frozen-lockfile --reporter=append-only "$@" | grep -v '^Progress'; statuses=("${PIPESTATUS[@]}"); } || true
  if [ "${statuses[0]:-1}" != "0" ]; then
    echo "pnpm install failed (exit ${statuses[0]:-?}); nothing else was started. Fix the error above and run again." >&2
    exit "${statuses[0]:-1}"
  fi
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
