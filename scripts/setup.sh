#!/usr/bin/env bash
# Install what Kernia needs on Debian 12 (apt, only what is missing), then
# configure and build with CMake into ./build. Idempotent: safe to run again.
#
#   ./scripts/setup.sh             apt packages + build
#   ./scripts/setup.sh --with-js   also `npm ci` in tests/js (test.sh does this)
#
# Environment: KERNIA_BUILD_DIR (default ./build), KERNIA_BUILD_TYPE
# (default RelWithDebInfo), KERNIA_SKIP_APT=1, KERNIA_SKIP_BUILD=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

WITH_JS=0
for arg in "$@"; do
  case "$arg" in
    --with-js) WITH_JS=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg" ;;
  esac
done

BUILD_DIR="${KERNIA_BUILD_DIR:-$ROOT/build}"
BUILD_TYPE="${KERNIA_BUILD_TYPE:-RelWithDebInfo}"

# --- 1. apt packages ---------------------------------------------------------
# The line from shared/qt-notes.md §1, plus the sqlite3 CLI (used by tests),
# ca-certificates (npm over TLS) and the QtQml module's type files (qmllint_demo).
APT_PACKAGES=(
  cmake g++ make
  qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qtkeychain-qt6-dev
  qt6-declarative-dev qt6-declarative-dev-tools
  libqt6sql6-sqlite libqt6sql6-psql libssl-dev
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-templates
  qml6-module-qtquick-window qml6-module-qtquick-layouts qml6-module-qtqml-workerscript
  qml6-module-qtqml qml6-module-qtqml-models
  qml6-module-qttest qt6-qpa-plugins
  gnome-keyring libsecret-1-0 dbus
  postgresql
  xvfb xauth
  sqlite3 ca-certificates
  clang libclang-rt-14-dev
  libcurl4-openssl-dev python3-aiosmtpd openssl
  libsodium-dev pkg-config
  libsqlite3-dev
)

install_apt_packages() {
  local missing=() pkg status
  for pkg in "$@"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    [ "$status" = "installed" ] || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt: all ${#} packages already installed"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  local SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and no sudo; install by hand: ${missing[*]}"
    SUDO=(sudo)
  fi
  log "apt: installing ${#missing[@]} missing package(s): ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

if [ "${KERNIA_SKIP_APT:-0}" != "1" ]; then
  pkgs=("${APT_PACKAGES[@]}")
  if [ "$WITH_JS" = "1" ] && ! command -v node >/dev/null 2>&1; then
    pkgs+=(nodejs npm)
  fi
  install_apt_packages "${pkgs[@]}"
fi

# --- 2. JS test dependencies ---------------------------------------------------
if [ "$WITH_JS" = "1" ]; then
  JS_DIR="$ROOT/tests/js"
  command -v node >/dev/null 2>&1 || die "node not found (apt-get install nodejs npm)"
  command -v npm >/dev/null 2>&1 || die "npm not found (apt-get install npm)"
  if [ -f "$JS_DIR/package-lock.json" ]; then
    STAMP="$JS_DIR/node_modules/.kernia-lock.sha256"
    WANT="$( (cat "$JS_DIR/package-lock.json" "$JS_DIR/package.json"; node --version) | sha256sum | cut -d' ' -f1)"
    if [ -d "$JS_DIR/node_modules" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
      log "npm: tests/js/node_modules is up to date"
    else
      log "npm: npm ci in tests/js ($(node --version), npm $(npm --version 2>/dev/null))"
      (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) \
        || die "npm ci failed in tests/js"
      printf '%s\n' "$WANT" > "$STAMP"
    fi
  else
    warn "tests/js/package-lock.json missing; skipping npm ci"
  fi
fi

# --- 3. configure + build ------------------------------------------------------
if [ "${KERNIA_SKIP_BUILD:-0}" != "1" ]; then
  log "cmake: configuring $BUILD_DIR ($BUILD_TYPE)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >&2
  JOBS="$(nproc 2>/dev/null || echo 2)"
  log "cmake: building with -j$JOBS"
  cmake --build "$BUILD_DIR" -j"$JOBS" >&2
  log "build done: $BUILD_DIR"
fi
