#!/usr/bin/env bash
# Side-by-side HTTP benchmark: the Better Auth reference server (bench/reference, memory
# adapter, node:http) against kernia-server (SQLite, and PostgreSQL when
# scripts/pg-test-server.sh can start one), same wrk Lua scripts, loopback only, rate
# limiting off everywhere. Writes docs/benchmarks-side-by-side.md.
#
#   bench/side-by-side/run.sh
#
# Env:
#   KERNIA_BUILD_DIR   build dir of kernia-server (default /tmp/benchbuild; configured and
#                      built there if the binary is missing)
#   BENCH_DURATION     seconds per wrk run (default 10)
#   BENCH_CONNECTIONS  connection counts (default "1 16 64")
#   BENCH_PG           auto (default) | off
#   BENCH_AUTH         bearer (default) | cookie — how get-session sends the session
#   BENCH_OUT          markdown output (default docs/benchmarks-side-by-side.md)
#   KERNIA_WORKER_THREADS  passed as --worker-threads when set
#
# Every scenario gets a fresh server process, so the peak RSS (VmHWM) of a scenario is that
# scenario's alone, and the reference's memory adapter starts empty each time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/bench/side-by-side"
REF_DIR="$ROOT/bench/reference"
BUILD="${KERNIA_BUILD_DIR:-/tmp/benchbuild}"
DURATION="${BENCH_DURATION:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-1 16 64}"
OUT="${BENCH_OUT:-$ROOT/docs/benchmarks-side-by-side.md}"
SECRET="kernia-bench-secret-0123456789ABCDEFGHIJ"
export BENCH_LUA_DIR="$HERE" BENCH_AUTH="${BENCH_AUTH:-bearer}"

WORK="$(mktemp -d /tmp/kernia-side-by-side.XXXXXX)"
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
SERVER_PID=""
PG_STARTED=0
T0=$(date +%s)

cleanup() {
  stop_server
  if [ "$PG_STARTED" = 1 ]; then "$ROOT/scripts/pg-test-server.sh" stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- 1. prerequisites
if ! command -v wrk >/dev/null; then
  log "installing wrk (apt)"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }
command -v cc >/dev/null || { echo "a C compiler is required for floor_server.c (apt-get install gcc)" >&2; exit 1; }
log "npm ci in bench/reference"
(cd "$REF_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# The machine's round-trip floor: a minimal C epoll server (see floor()).
FLOOR_SERVER="$WORK/floor_server"
cc -O2 -o "$FLOOR_SERVER" "$HERE/floor_server.c"

KERNIA="$BUILD/sync-server/kernia-server"
if [ ! -x "$KERNIA" ]; then
  log "building kernia-server in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target kernia-server >/dev/null
fi

PG_URL=""
if [ "${BENCH_PG:-auto}" != off ]; then
  if PG_URL="$("$ROOT/scripts/pg-test-server.sh" url 2>/dev/null)" && [ -n "$PG_URL" ]; then
    log "PostgreSQL already running: $PG_URL"
  elif PG_URL="$("$ROOT/scripts/pg-test-server.sh" start 2>"$WORK/pg.err" | tail -n1)" && [ -n "$PG_URL" ]; then
    PG_STARTED=1; log "PostgreSQL started: $PG_URL"
  else
    PG_URL=""; log "PostgreSQL not available ($(tail -n1 "$WORK/pg.err" 2>/dev/null)): SQLite only"
  fi
fi

# ---------------------------------------------------------------- servers
URL=""
# start_server reference|sqlite|pg NAME
start_server() {
  local kind="$1" name="$2" logf="$WORK/$2.log" extra=()
  case "$kind" in
    reference)
      (cd "$REF_DIR" && NODE_ENV=production exec node server.mjs --port 0) >"$logf" 2>&1 &
      ;;
    floor)
      "$FLOOR_SERVER" 0 >"$logf" 2>&1 &
      ;;
    sqlite|pg)
      local data="$WORK/data-$name"; mkdir -p "$data"
      if [ "$kind" = pg ]; then
        local db="kernia_sbs_${name//[^a-z0-9]/_}_$$"
        PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qAt -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
        extra+=(--database "${PG_URL%/*}/$db")
      fi
      [ -n "${KERNIA_WORKER_THREADS:-}" ] && extra+=(--worker-threads "$KERNIA_WORKER_THREADS")
      "$KERNIA" --host 127.0.0.1 --port 0 --data-dir "$data" --secret "$SECRET" --no-rate-limit \
        "${extra[@]}" >"$logf" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  URL=""
  for _ in $(seq 1 300); do
    URL="$(grep -oE 'listening on http://[0-9.:]+' "$logf" | head -n1 | cut -d' ' -f3 || true)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$URL" ] || { echo "$kind server did not start:" >&2; cat "$logf" >&2; exit 1; }
  export BENCH_ORIGIN="$URL"
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}

# The server and its children: kernia-server's two scrypt helper processes hash every
# password, so their memory and CPU count as the server's.
server_pids() { echo "$SERVER_PID"; cat /proc/"$SERVER_PID"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -v '^$' || true; }
# sum_over_server FILE AWK: AWK's number from /proc/<pid>/FILE, summed over server_pids.
sum_over_server() {
  local pid total=0 value
  for pid in $(server_pids); do
    value="$(awk "$2" "/proc/$pid/$1" 2>/dev/null)"; total=$((total + ${value:-0}))
  done
  echo "$total"
}
# The sum of each process's own peak: at least the peak of the sum.
peak_rss_kb() { sum_over_server status '/^VmHWM:/ {print $2}'; }
cpu_ticks() { sum_over_server stat '{print $14 + $15}'; }

# Wait until the server has drained what wrk left queued (CPU < ~5 % for 1 s, at most 60 s).
wait_idle() {
  local prev now quiet=0
  prev="$(cpu_ticks)"
  for _ in $(seq 1 120); do
    sleep 0.5
    now="$(cpu_ticks)"
    if [ $((now - prev)) -le 2 ]; then quiet=$((quiet + 1)); [ "$quiet" -ge 2 ] && return 0; else quiet=0; fi
    prev="$now"
  done
  log "warning: server still busy after 60 s"
}

# A guest session for get-session / sync push: prints the signed token (set-auth-token).
new_session() {
  curl -s -D - -o /dev/null -X POST "$URL/api/auth/sign-in/anonymous" \
    -H 'Content-Type: application/json' -H "Origin: $URL" -d '{}' \
    | awk 'tolower($1) == "set-auth-token:" {print $2}' | tr -d '\r'
}

# wrk_run SCRIPT CONNECTIONS DURATION → prints the RESULT line
wrk_run() {
  local script="$1" c="$2" d="$3" t=2
  [ "$c" -lt 2 ] && t=1
  BENCH_RUN_ID="$(date +%s%N)" wrk -t"$t" -c"$c" -d"${d}s" --timeout 30s --latency -s "$HERE/$script" "$URL" >"$WORK/wrk.out" 2>&1 \
    || { cat "$WORK/wrk.out" >&2; return 1; }
  grep '^RESULT ' "$WORK/wrk.out" | tail -n1
}

# record SERVER SCENARIO CONNECTIONS RESULT-LINE
record() {
  local kv="${4#RESULT }"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$kv" >>"$RESULTS"
  printf '   %-14s %-20s c=%-3s %s\n' "$1" "$2" "$3" "$kv" >&2
}

# scenario SERVER-KIND NAME SCRIPT
scenario() {
  local kind="$1" scen="$2" script="$3" c res
  start_server "$kind" "$kind-$scen"
  export BENCH_TOKEN=""
  case "$script" in get-session.lua|sync-push.lua)
    BENCH_TOKEN="$(new_session)"; [ -n "$BENCH_TOKEN" ] || { echo "no session from $URL" >&2; exit 1; } ;;
  esac
  for c in $CONNECTIONS; do
    res="$(wrk_run "$script" "$c" "$DURATION")"
    record "$kind" "$scen" "$c" "$res"
    wait_idle
  done
  printf '%s\t%s\t-\tpeak_rss_kb=%s\n' "$kind" "$scen" "$(peak_rss_kb)" >>"$RESULTS"
  stop_server
}

# get-session p99 idle vs. during an email sign-up storm (sign-up wrk at 64 connections).
storm() {
  local kind="$1" res
  start_server "$kind" "$kind-storm"
  export BENCH_TOKEN; BENCH_TOKEN="$(new_session)"
  res="$(wrk_run get-session.lua 16 "$DURATION")"; record "$kind" "storm-idle" 16 "$res"
  wait_idle
  BENCH_RUN_ID="storm$(date +%s%N)" wrk -t1 -c64 -d"$((DURATION + 4))s" --timeout 30s -s "$HERE/sign-up-email.lua" "$URL" >"$WORK/storm.out" 2>&1 &
  local storm_pid=$!
  sleep 2
  res="$(wrk_run get-session.lua 16 "$DURATION")"; record "$kind" "storm-busy" 16 "$res"
  wait "$storm_pid" || true
  res="$(grep '^RESULT ' "$WORK/storm.out" | tail -n1)"; record "$kind" "storm-signups" 64 "$res"
  wait_idle
  printf '%s\t%s\t-\tpeak_rss_kb=%s\n' "$kind" "storm" "$(peak_rss_kb)" >>"$RESULTS"
  stop_server
}

# The round trip alone, at one connection: GET /api/auth/ok (no session, no store) on the
# reference and on Kernia (SQLite), and the same request answered by floor_server.c. No
# endpoint of a server can beat its own /ok at one connection, and no server on this
# machine can beat floor_server.
floor() {
  local kind
  for kind in reference sqlite floor; do
    start_server "$kind" "$kind-floor"
    record "$kind" ok 1 "$(wrk_run ok.lua 1 "$DURATION")"
    stop_server
  done
}

run_server() {
  local kind="$1"
  log "$kind: get-session"; scenario "$kind" get-session get-session.lua
  log "$kind: sign-in/anonymous"; scenario "$kind" sign-in-anonymous sign-in-anonymous.lua
  log "$kind: sign-up/email"; scenario "$kind" sign-up-email sign-up-email.lua
  if [ "$kind" != reference ]; then log "$kind: sync push"; scenario "$kind" sync-push sync-push.lua; fi
  log "$kind: get-session during a sign-up storm"; storm "$kind"
}

# ---------------------------------------------------------------- 2./3. runs
log "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), wrk on the same cores"
run_server reference
run_server sqlite
[ -n "$PG_URL" ] && run_server pg
log "round-trip floor (GET /api/auth/ok at 1 connection)"; floor

# ---------------------------------------------------------------- 4. report
REF_VERSIONS="better-auth $(node -p "require('$REF_DIR/node_modules/better-auth/package.json').version"), @better-auth/passkey $(node -p "require('$REF_DIR/node_modules/@better-auth/passkey/package.json').version"), node $(node --version)"
KERNIA_VERSION="$("$KERNIA" --version 2>/dev/null | head -n1 || echo '?') ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- sync-server 2>/dev/null || echo ', sync-server has uncommitted changes'))"
node "$HERE/report.mjs" "$RESULTS" "$OUT" \
  "date=$(date -u +%Y-%m-%dT%H:%MZ)" \
  "cpu=$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
  "mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
  "os=$(. /etc/os-release; echo "$PRETTY_NAME"), kernel $(uname -r)" \
  "wrk=$(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}')" \
  "duration=$DURATION" "conns=$CONNECTIONS" "auth=$BENCH_AUTH" "workers=${KERNIA_WORKER_THREADS:-default (8)}" \
  "reference=$REF_VERSIONS" "kernia=$KERNIA_VERSION" \
  "pg=$( [ -n "$PG_URL" ] && psql "$PG_URL" -qAt -c 'show server_version' 2>/dev/null | sed 's/^/PostgreSQL /' || echo 'not run')" \
  "elapsed=$(( $(date +%s) - T0 ))"
log "written $OUT ($(( $(date +%s) - T0 )) s)"
