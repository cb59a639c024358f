# Shared by ops/local/{stack,postgres,kafka}.sh (sourced, not run): paths, settings, helpers.
# shellcheck shell=bash

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$LOCAL_DIR/../.." && pwd -P)"
# TANSIQ_LOCAL_DIR: another state directory (with PGPORT/TANSIQ_KAFKA_PORT: a second stack
# beside the usual one, e.g. to try these scripts without stopping the stack others use)
STATE_DIR="${TANSIQ_LOCAL_DIR:-$REPO_ROOT/.local}"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
VENV_BIN="$REPO_ROOT/.venv/bin"

SERVICES=(registry agreements engagements reporting)
PG_EXTERNAL="${TANSIQ_PG_EXTERNAL:-0}"
KAFKA_EXTERNAL="${TANSIQ_KAFKA_EXTERNAL:-0}"
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

say()  { printf '%s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die()  { printf 'stack: ERROR: %s\n' "$*" >&2; exit 1; }
rel()  { case "$1" in "$REPO_ROOT"/*) printf '%s' "${1#"$REPO_ROOT"/}";; *) printf '%s' "$1";; esac; }

# milliseconds (bash 5: EPOCHREALTIME)
now_ms() { local t="${EPOCHREALTIME/./}"; printf '%s' "$((t / 1000))"; }

# true if process $1 exists and is not a zombie (a kill -9'd server can linger as one)
proc_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat:0:1}" != Z ]
}

# true if something accepts TCP connections on 127.0.0.1:$1
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

APT_UPDATED=0
apt_install() {
    [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null 2>&1 || return 1
    say "installing with apt-get: $*"
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || return 1
}

# One stack command at a time per state directory (fd 9; servers started under it close fd 9).
lock() {
    mkdir -p "$STATE_DIR" "$LOG_DIR" "$RUN_DIR"
    exec 9>"$STATE_DIR/.stack.lock"
    if ! flock -n 9; then
        say "another stack command is running; waiting for it..."
        flock -w 600 9 || die "could not get the lock $STATE_DIR/.stack.lock"
    fi
}

# The project's Python (topics are created by `tansiq events topics`): installed on first need.
ensure_venv() {
    [ -x "$VENV_BIN/tansiq" ] && return 0
    say "the project's .venv is missing: make install"
    make --no-print-directory -C "$REPO_ROOT" install >&2 || die "make install failed"
}
