#!/usr/bin/env bash
# Install what is needed (apt + npm ci in tests/js), build, run every test with
# ctest inside a throwaway Secret Service session, and end with one line
#   N passed, N failed
# summing individual test cases (Qt Test functions + node test cases).
# Exit code: non-zero if anything failed or nothing ran.
#
# Extra arguments go to ctest (e.g. ./scripts/test.sh -R js_core).
# Environment: KERNIA_BUILD_DIR (default ./build), KERNIA_SKIP_SETUP=1 (no apt/npm/build).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

BUILD_DIR="${KERNIA_BUILD_DIR:-$ROOT/build}"
export KERNIA_BUILD_DIR="$BUILD_DIR"

fail_early() { log "$1"; echo "0 passed, 1 failed"; exit 1; }

if [ "${KERNIA_SKIP_SETUP:-0}" != "1" ]; then
  "$ROOT/scripts/setup.sh" --with-js || fail_early "setup/build failed"
fi
[ -f "$BUILD_DIR/CTestTestfile.cmake" ] || fail_early "no CTest build in $BUILD_DIR (run ./scripts/setup.sh)"
command -v node >/dev/null 2>&1 || fail_early "node not found (needed for the JS tests and the counter)"

RESULTS="$BUILD_DIR/Testing/kernia"
rm -rf "$RESULTS"
mkdir -p "$RESULTS"
JUNIT="$RESULTS/junit.xml"

# ctest keeps the full output of every test in the JUnit file (the counter reads
# the Qt Test "Totals:" and node TAP "# pass/# fail" lines from it).
CTEST_ARGS=(--test-dir "$BUILD_DIR" --output-on-failure --output-junit "$JUNIT"
            --test-output-size-passed 50000000 --test-output-size-failed 50000000
            --timeout 900 "$@")

# Throwaway HOME/XDG dirs + session bus + unlocked gnome-keyring (qt-notes §4).
KH="$(mktemp -d "${TMPDIR:-/tmp}/kernia-keyring.XXXXXX")"
mkdir -m 700 "$KH/run"
mkdir -p "$KH/.local/share" "$KH/.config" "$KH/.cache"
trap 'rm -rf "$KH"' EXIT

# Throwaway PostgreSQL for the PostgreSQL halves of the suites (tst_store, *_postgres,
# js_*_postgres), unless the caller already points KERNIA_TEST_POSTGRES_URL at a server.
if [ -z "${KERNIA_TEST_POSTGRES_URL:-}" ]; then
  KERNIA_PG_TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/kernia-pg.XXXXXX")"
  export KERNIA_PG_TEST_DIR
  trap 'rm -rf "$KH"; "$ROOT/scripts/pg-test-server.sh" stop >/dev/null 2>&1' EXIT
  if KERNIA_TEST_POSTGRES_URL="$("$ROOT/scripts/pg-test-server.sh" start)"; then
    export KERNIA_TEST_POSTGRES_URL
    export KERNIA_TEST_POSTGRES_SOCKET_DIR="$KERNIA_PG_TEST_DIR"
  else
    unset KERNIA_TEST_POSTGRES_URL
    warn "could not start a test PostgreSQL (scripts/pg-test-server.sh): PostgreSQL tests will skip or fail"
  fi
fi
export QT_QPA_PLATFORM=offscreen
SESSION_ENV=(HOME="$KH" XDG_DATA_HOME="$KH/.local/share" XDG_CONFIG_HOME="$KH/.config"
             XDG_CACHE_HOME="$KH/.cache" XDG_RUNTIME_DIR="$KH/run")

log "running ctest in $BUILD_DIR"
if command -v dbus-run-session >/dev/null 2>&1 && command -v gnome-keyring-daemon >/dev/null 2>&1; then
  env "${SESSION_ENV[@]}" dbus-run-session -- bash -c '
    if ! printf "%s" "kernia-ci" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; then
      printf "[kernia] warning: gnome-keyring-daemon --unlock failed; keychain tests may fail\n" >&2
    fi
    exec ctest "$@"
  ' kernia-ctest "${CTEST_ARGS[@]}" </dev/null
  CTEST_RC=$?
else
  warn "dbus-run-session or gnome-keyring-daemon missing: running ctest without a Secret Service session"
  env "${SESSION_ENV[@]}" ctest "${CTEST_ARGS[@]}" </dev/null
  CTEST_RC=$?
fi

SUMMARY=""
if [ -f "$JUNIT" ]; then
  SUMMARY="$(node "$ROOT/scripts/count-tests.mjs" "$JUNIT")"
fi
if ! printf '%s\n' "$SUMMARY" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  warn "could not count test cases (ctest exit code $CTEST_RC)"
  if [ "$CTEST_RC" -eq 0 ]; then SUMMARY="0 passed, 0 failed"; else SUMMARY="0 passed, 1 failed"; fi
fi
PASSED="${SUMMARY%% passed*}"
FAILED="${SUMMARY#*, }"; FAILED="${FAILED%% failed*}"

log "ctest exit code $CTEST_RC; JUnit report: $JUNIT"
echo "$SUMMARY"
if [ "$CTEST_RC" -ne 0 ] || [ "$FAILED" != "0" ] || [ "$PASSED" = "0" ]; then
  exit 1
fi
exit 0
