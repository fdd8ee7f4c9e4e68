#!/usr/bin/env bash
# Builds kernia-server and the SDK, installs the SDK into a temp prefix, builds the
# benchmarks (bench/CMakeLists.txt) against it, starts a local kernia-server and runs:
#   kernia-bench-sync  push + pull of N records over /api/sync (bearer token)
#   kernia-bench-sdk   local writes/s through Kernia::Collection (+ SDK push with --sync)
# Usage: bench/run.sh [records]   (default 10000)
# Env: KERNIA_BUILD_DIR (default /tmp/kernia-bench/build; an existing build is reused), KERNIA_BENCH_DIR (default /tmp/kernia-bench)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS="${1:-10000}"
WORK="${KERNIA_BENCH_DIR:-/tmp/kernia-bench}"
BUILD="${KERNIA_BUILD_DIR:-$WORK/build}"
JOBS="$(nproc)"
mkdir -p "$WORK"

echo "== building kernia-server and the SDK in $BUILD"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then   # an existing build dir is reused as configured
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKERNIA_BUILD_TESTS=OFF -DKERNIA_BUILD_DEMO=OFF >/dev/null
fi
cmake --build "$BUILD" -j"$JOBS" --target kernia-server KerniaSdk >/dev/null

# The SDK benchmark needs the Collection API (sdk/include/Kernia/collection.h).
SDK_BENCH=OFF
if grep -qs "class.*Collection" "$ROOT"/sdk/include/Kernia/*.h; then
  SDK_BENCH=ON
  rm -rf "$WORK/prefix"
  cmake --install "$BUILD/sdk" --prefix "$WORK/prefix" >/dev/null
else
  echo "!! Kernia::Collection is not in the SDK yet: the SDK write benchmark is MISSING (not built)"
fi

echo "== building the benchmarks"
cmake -S "$ROOT/bench" -B "$WORK/bench-build" -DCMAKE_BUILD_TYPE=Release -DKERNIA_BENCH_SDK=$SDK_BENCH \
      -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/bench-build" -j"$JOBS" >/dev/null

echo "== starting kernia-server"
DATA="$(mktemp -d "$WORK/server-data.XXXXXX")"
LOG="$DATA/server.log"
"$BUILD/sync-server/kernia-server" --host 127.0.0.1 --port 0 --data-dir "$DATA" \
    --secret "kernia-bench-secret-0123456789ABCDEFGHIJ" --no-rate-limit >"$LOG" 2>&1 &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; rm -rf "$DATA"' EXIT
URL=""
for _ in $(seq 1 200); do
  URL="$(grep -oE 'listening on http://[^ ]+' "$LOG" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "kernia-server did not start:"; cat "$LOG"; exit 1; }

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== HTTP sync API, $RECORDS records ($URL, SQLite)"
"$WORK/bench-build/kernia-bench-sync" --server "$URL" --records "$RECORDS"

if [ "$SDK_BENCH" = ON ]; then
  echo "== SDK local writes, $RECORDS records (offline)"
  "$WORK/bench-build/kernia-bench-sdk" --records "$RECORDS"
  echo "== SDK local writes then background sync to the server"
  "$WORK/bench-build/kernia-bench-sdk" --records "$RECORDS" --server "$URL" --sync
fi
