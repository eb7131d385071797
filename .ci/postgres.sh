#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on loopback for the `postgres`-marked tests and export
# CICD_ETL_TEST_POSTGRES. Source it (`. .ci/postgres.sh`) so the variable reaches the test step.
# Idempotent: reuses a server it started before (same data directory) if it is still running.
# Installs PostgreSQL with apt-get when it is missing. Works as root (runs the server as `postgres`)
# or as a normal user.

_cicd_pg_main() {
  local port="${CICD_ETL_PG_PORT:-55432}"
  local root="${CICD_ETL_PG_DIR:-${TMPDIR:-/tmp}/cicd-etl-postgres}"
  local password="cicd_test_only"
  local bindir

  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  if [ -z "$bindir" ] && ! command -v initdb >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      echo "== installing PostgreSQL (apt-get)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
      bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    fi
  fi
  [ -n "$bindir" ] || bindir="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
  if [ ! -x "$bindir/initdb" ]; then
    echo "PostgreSQL not available: postgres tests will be skipped" >&2
    return 0
  fi

  # The server refuses to run as root: use the `postgres` account then.
  local run=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    run=(runuser -u postgres --)
  fi

  mkdir -p "$root"
  [ "$(id -u)" = "0" ] && chown postgres "$root"
  local data="$root/data"
  if [ ! -s "$data/PG_VERSION" ]; then
    local pwfile="$root/pw"
    printf '%s\n' "$password" > "$pwfile"
    [ "$(id -u)" = "0" ] && chown postgres "$pwfile"
    if ! "${run[@]}" "$bindir/initdb" -D "$data" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      -E UTF8 >"$root/initdb.log" 2>&1; then
      rm -f "$pwfile"
      echo "initdb failed (see $root/initdb.log): postgres tests will be skipped" >&2
      return 1
    fi
    rm -f "$pwfile"
  fi
  if ! "${run[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    if ! "${run[@]}" "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$root -c fsync=off" \
      start >/dev/null; then
      echo "PostgreSQL did not start (see $root/server.log): postgres tests will be skipped" >&2
      return 1
    fi
  fi
  export CICD_ETL_TEST_POSTGRES="postgresql://postgres:${password}@127.0.0.1:${port}/postgres"
  echo "== PostgreSQL on 127.0.0.1:${port} (CICD_ETL_TEST_POSTGRES set)"
}

_cicd_pg_main
_cicd_pg_status=$?
unset -f _cicd_pg_main
[ "$_cicd_pg_status" -eq 0 ]
