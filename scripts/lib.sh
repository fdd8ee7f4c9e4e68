# Shared helpers for scripts/*.sh (sourced, not executed).
log()  { printf '[kernia] %s\n' "$*" >&2; }
warn() { printf '[kernia] warning: %s\n' "$*" >&2; }
die()  { printf '[kernia] error: %s\n' "$*" >&2; exit 1; }
