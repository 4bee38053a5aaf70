#!/usr/bin/env bash
# Makes sure the real NATS (JetStream) and PostgreSQL the integration tests use answer on 127.0.0.1.
# Uses running servers; starts installed ones; on a bare Debian as root installs them from Debian's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> Installing $* (Debian packages)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "Missing $*: install with 'sudo apt-get install -y $*'." >&2
    exit 1
  fi
}

if [ -z "${NATS_URL:-}" ] && ! port_open 127.0.0.1 4222; then
  command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || apt_install nats-server
  mkdir -p .data/nats
  bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  echo "==> Starting nats-server with JetStream on 127.0.0.1:4222"
  nohup "$bin" -a 127.0.0.1 -p 4222 -js -sd "$PWD/.data/nats" >.data/nats-server.log 2>&1 &
  for _ in $(seq 1 50); do port_open 127.0.0.1 4222 && break; sleep 0.2; done
fi

if ! port_open 127.0.0.1 5432; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  echo "==> Starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 50); do port_open 127.0.0.1 5432 && break; sleep 0.2; done
fi

# Tests connect as postgres over TCP without a password (trust on loopback, as on the CI machines).
if ! node -e "
const pg=require('pg');const c=new pg.Client({connectionString:process.env.TEST_ADMIN_DATABASE_URL||'postgres://postgres@127.0.0.1:5432/postgres'});
c.connect().then(()=>c.end()).catch(e=>{console.error(e.message);process.exit(1)})" 2>/dev/null; then
  hba=$(ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | tail -1)
  if [ -n "$hba" ] && [ "$(id -u)" = "0" ]; then
    echo "==> Allowing trust auth on loopback for the local test cluster"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$(dirname "$(dirname "$hba")")")" main reload
  else
    echo "Postgres on 127.0.0.1:5432 refuses postgres without password; set TEST_ADMIN_DATABASE_URL." >&2
    exit 1
  fi
fi
echo "==> NATS and PostgreSQL are ready"
