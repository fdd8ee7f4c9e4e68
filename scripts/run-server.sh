#!/usr/bin/env bash
# Install what is needed (apt), build with CMake into ./build, then start
# kernia-server on embedded SQLite (default: ./data/kernia.db, http://127.0.0.1:3000).
# All arguments are passed to kernia-server (see ./scripts/run-server.sh --help).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

"$ROOT/scripts/setup.sh"
BIN="${KERNIA_BUILD_DIR:-$ROOT/build}/sync-server/kernia-server"
[ -x "$BIN" ] || die "kernia-server was not built ($BIN)"
log "starting $BIN $*"
exec "$BIN" "$@"
