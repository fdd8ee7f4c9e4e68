#!/usr/bin/env bash
# Builds tests/fuzz with clang++ (-fsanitize=fuzzer,address,undefined) in its own build
# directory, writes the seed corpus from the unit-test vectors and runs fuzz_webauthn briefly.
#
#   tests/fuzz/run_fuzzer.sh [BUILD_DIR]          default /tmp/kernia-fuzz-build
#   tests/fuzz/run_fuzzer.sh --prebuilt DIR       fuzz_webauthn already built in DIR (Clang tree)
#
# Environment: KERNIA_FUZZ_SECONDS (default 20), KERNIA_FUZZ_RUNS (default 5000000).
# Exit 77 ("skipped" for ctest) when clang++ or libFuzzer's runtime is not installed
# (Debian: apt-get install clang libclang-rt-14-dev).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SECONDS_TO_RUN="${KERNIA_FUZZ_SECONDS:-20}"
RUNS="${KERNIA_FUZZ_RUNS:-5000000}"

if [ "${1:-}" = "--prebuilt" ]; then
  BUILD="$2"
else
  BUILD="${1:-/tmp/kernia-fuzz-build}"
  CXX_BIN="$(command -v clang++ || command -v clang++-14 || true)"
  if [ -z "$CXX_BIN" ]; then
    echo "SKIP: clang++ not found (apt-get install clang libclang-rt-14-dev)"
    exit 77
  fi
  RUNTIME_DIR="$("$CXX_BIN" -print-runtime-dir 2>/dev/null || true)"
  if ! ls "$RUNTIME_DIR"/libclang_rt.fuzzer*.a >/dev/null 2>&1 \
     && ! ls "$(dirname "$("$CXX_BIN" -print-libgcc-file-name --rtlib=compiler-rt 2>/dev/null)")"/libclang_rt.fuzzer*.a >/dev/null 2>&1; then
    echo "SKIP: libFuzzer runtime not found for $CXX_BIN (apt-get install libclang-rt-14-dev)"
    exit 77
  fi
  echo "== configure + build with $CXX_BIN in $BUILD"
  cmake -S "$HERE" -B "$BUILD" -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" -j2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
rm -rf "$BUILD/seeds"
"$BUILD/fuzz_webauthn_seeds" "$BUILD/seeds"
mkdir -p "$BUILD/corpus"
# Past findings first, each many times: one of them was only caught on a repeat (a
# randomised check inside OpenSSL).
echo "== replaying regressions"
"$BUILD/fuzz_webauthn" -error_exitcode=1 -runs=200 "$HERE"/regressions/*
echo "== fuzzing for ${SECONDS_TO_RUN}s (at most $RUNS runs)"
# libFuzzer exits 77 on a crash by default — ctest's "skipped" code here — so a finding
# would look like a skip: report crashes and timeouts as plain failures.
"$BUILD/fuzz_webauthn" -error_exitcode=1 -timeout_exitcode=1 \
  -max_total_time="$SECONDS_TO_RUN" -runs="$RUNS" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$BUILD/" "$BUILD/corpus" "$BUILD/seeds"
