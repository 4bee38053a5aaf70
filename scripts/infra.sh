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

# The tests' Postgres. This script never changes a Postgres's authentication (no pg_hba.conf edits, no passwords
# set): it uses TEST_ADMIN_DATABASE_URL, else postgres on 127.0.0.1:5432 when that needs no password (CI, a
# developer's trust setup), else a cluster of the project's own (created once, as root on Debian, with trust on
# loopback only) whose URL it leaves in .data/test-admin-database-url for @lucy/testkit.
PRIVATE_CLUSTER=lucy-test
PRIVATE_PORT=${LUCY_TEST_PG_PORT:-5442}
URL_FILE=.data/test-admin-database-url
mkdir -p .data

pg_answers() {
  node -e "
const pg=require('pg');const c=new pg.Client({connectionString:process.argv[1]});
c.connect().then(()=>c.end()).catch(e=>{console.error(e.message);process.exit(1)})" "$1" 2>/dev/null
}

if [ -n "${TEST_ADMIN_DATABASE_URL:-}" ]; then
  pg_answers "$TEST_ADMIN_DATABASE_URL" || { echo "TEST_ADMIN_DATABASE_URL does not answer." >&2; exit 1; }
  echo "==> NATS and PostgreSQL (TEST_ADMIN_DATABASE_URL) are ready"
  exit 0
fi

if ! port_open 127.0.0.1 5432 && [ ! -f "$URL_FILE" ]; then
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  if [ -d "/etc/postgresql/$version/main" ]; then
    echo "==> Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 50); do port_open 127.0.0.1 5432 && break; sleep 0.2; done
  fi
fi

if pg_answers postgres://postgres@127.0.0.1:5432/postgres; then
  rm -f "$URL_FILE"
  echo "==> NATS and PostgreSQL are ready"
  exit 0
fi

private_url="postgres://postgres@127.0.0.1:$PRIVATE_PORT/postgres"
if [ "$(id -u)" = "0" ] && command -v pg_createcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -n | tail -1)
  if [ ! -d "/etc/postgresql/$version/$PRIVATE_CLUSTER" ]; then
    echo "==> Postgres on 127.0.0.1:5432 wants a password; creating the project's own cluster $PRIVATE_CLUSTER on 127.0.0.1:$PRIVATE_PORT (trust on loopback; the system cluster is left as it is)"
    pg_createcluster "$version" "$PRIVATE_CLUSTER" --port "$PRIVATE_PORT" -- --auth-host=trust --auth-local=peer >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" "$PRIVATE_CLUSTER" start >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do port_open 127.0.0.1 "$PRIVATE_PORT" && break; sleep 0.2; done
  if pg_answers "$private_url"; then
    echo "$private_url" >"$URL_FILE"
    echo "==> NATS and PostgreSQL ($PRIVATE_CLUSTER on 127.0.0.1:$PRIVATE_PORT) are ready"
    exit 0
  fi
fi

cat >&2 <<MSG
Postgres on 127.0.0.1:5432 refuses the user postgres without a password, and this script does not change a
Postgres's authentication. Either point the tests at a server and role that may create databases:
  export TEST_ADMIN_DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:5432/postgres
or run this script as root on Debian once: it creates a cluster of the project's own on 127.0.0.1:$PRIVATE_PORT.
MSG
exit 1
