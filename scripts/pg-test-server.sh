#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the tests: initdb into a temp dir owned by the
# `postgres` user, listen on 127.0.0.1 on a free port (unix socket in the same
# dir), trust authentication, fsync off. No systemd, nothing written outside
# the state dir.
#
#   scripts/pg-test-server.sh [start]   start (or reuse) the server; prints its URL
#                                        postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh url       print the URL of the running server
#   scripts/pg-test-server.sh stop      stop it and delete the state dir
#
# Idempotent: `start` on a running server just prints the URL again; `stop` on a
# stopped one does nothing. Environment:
#   KERNIA_PG_TEST_DIR  state dir (default ${TMPDIR:-/tmp}/kernia-pg-test-$UID);
#                       created if missing and handed to the postgres user
#   KERNIA_PG_BIN       PostgreSQL binaries (default /usr/lib/postgresql/15/bin,
#                       else the newest /usr/lib/postgresql/*/bin)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

CMD="${1:-start}"
STATE="${KERNIA_PG_TEST_DIR:-${TMPDIR:-/tmp}/kernia-pg-test-$(id -u)}"
DATA="$STATE/data"
URL_FILE="$STATE/url"

find_bin() {
  if [ -n "${KERNIA_PG_BIN:-}" ]; then printf '%s\n' "$KERNIA_PG_BIN"; return; fi
  if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then printf '%s\n' /usr/lib/postgresql/15/bin; return; fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$newest" ] || die "PostgreSQL binaries not found (apt-get install postgresql)"
  printf '%s\n' "$newest"
}

# Runs a command as the owner of the data dir: `postgres` when we are root
# (initdb and postgres refuse to run as root), else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' missing (apt-get install postgresql)"
    local quoted="" arg
    for arg in "$@"; do quoted+=" $(printf '%q' "$arg")"; done
    su postgres -s /bin/sh -c "$quoted"
  else
    "$@"
  fi
}

is_running() {
  [ -f "$DATA/postmaster.pid" ] && [ -f "$URL_FILE" ] \
    && as_owner "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

PG_BIN="$(find_bin)"

case "$CMD" in
  start)
    if is_running; then
      cat "$URL_FILE"
      exit 0
    fi
    mkdir -p "$STATE"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$STATE"
    chmod 755 "$STATE"
    if [ ! -f "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"
      as_owner "$PG_BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --no-locale \
        >"$STATE/initdb.log" 2>&1 || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
    fi
    started=0
    for _ in 1 2 3 4 5 6 7 8; do
      port=$(( 20000 + RANDOM % 30000 ))
      port_in_use "$port" && continue
      if as_owner "$PG_BIN/pg_ctl" -D "$DATA" -l "$STATE/postgres.log" -w -t 30 \
           -o "-k $STATE -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
           start >"$STATE/pg_ctl.log" 2>&1; then
        started=1
        break
      fi
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    done
    if [ "$started" != 1 ]; then
      tail -n 20 "$STATE/postgres.log" >&2 2>/dev/null || true
      die "could not start PostgreSQL (see $STATE/postgres.log)"
    fi
    url="postgres://postgres@127.0.0.1:$port/postgres"
    printf '%s\n' "$url" >"$URL_FILE.tmp"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$URL_FILE.tmp"
    mv "$URL_FILE.tmp" "$URL_FILE"
    log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (state in $STATE)"
    printf '%s\n' "$url"
    ;;
  url)
    is_running || die "no test PostgreSQL running in $STATE"
    cat "$URL_FILE"
    ;;
  stop)
    if [ -f "$DATA/postmaster.pid" ]; then
      as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 \
        || as_owner "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -d "$STATE" ]; then
      rm -rf "$STATE"
      log "test PostgreSQL stopped ($STATE removed)"
    fi
    ;;
  -h|--help|help)
    sed -n '2,17p' "$0"
    ;;
  *)
    die "unknown command: $CMD (start | url | stop)"
    ;;
esac
