#!/usr/bin/env bash
# Local infrastructure for Tansiq development and tests: PostgreSQL (postgres.sh) and Apache Kafka
# in KRaft mode (kafka.sh), plain processes on loopback, state in <repo>/.local/ (git-ignored).
#
#   ops/local/stack.sh up        start PostgreSQL and Kafka unless running (a second `up` is fast),
#                                then ensure the roles, databases, extensions and topics
#   ops/local/stack.sh down      stop what `up` started; the data stays
#   ops/local/stack.sh status    whether each runs (exit 3 if one does not)
#   ops/local/stack.sh env       `export VAR=value` lines: eval "$(ops/local/stack.sh env)"
#   ops/local/stack.sh topics    (re)create the topics with `tansiq events topics` (also done by `up`)
#   ops/local/stack.sh reset     down + delete the local state (keeps the Kafka jars unless --all,
#                                and the files in .local/ these scripts do not own)
#
# When PGPORT / the Kafka port is already served by a Tansiq stack this checkout did not start
# (another checkout on the same machine, e.g. CI's fresh clone), `up` uses it; `down` leaves it.
#
# Environment:
#   PGPORT                      PostgreSQL port (55432)
#   TANSIQ_KAFKA_PORT           Kafka port (9092); controller: TANSIQ_KAFKA_CONTROLLER_PORT (9093)
#   TOPIC_PREFIX                prepended to every topic name
#   TOPIC_REPLICATION_FACTOR    replicas of new topics (1)
#   TANSIQ_PG_EXTERNAL=1        start no PostgreSQL; `env` echoes the *_DATABASE_URL already set
#   TANSIQ_KAFKA_EXTERNAL=1     start no Kafka; use KAFKA_BOOTSTRAP_SERVERS (`up`/`topics` still
#                               ensure the topics there)
#   TANSIQ_LOCAL_DIR            state directory (.local); with other ports, a second stack
#   TANSIQ_KAFKA_LIBS           where the Kafka jars are (.local/kafka/libs)
#   TANSIQ_MVN_ARGS             extra arguments for the one-time Maven fetch of the Kafka jars
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LOCAL_DIR/postgres.sh"
source "$LOCAL_DIR/kafka.sh"

cmd_up() {
    local t0 logs=""
    t0="$(now_ms)"
    [ "$KAFKA_EXTERNAL" != 1 ] || kafka_bootstrap >/dev/null   # fails early when unset
    lock
    # both start first and are waited for after: the two start-ups overlap
    if [ "$PG_EXTERNAL" != 1 ]; then pg_ensure_installed; pg_start; fi
    if [ "$KAFKA_EXTERNAL" != 1 ]; then kafka_start; else KAFKA_STATE=external; fi
    if [ "$PG_EXTERNAL" != 1 ]; then pg_up
    else say "postgres: external (TANSIQ_PG_EXTERNAL=1), not started; the databases are not provisioned"; fi
    [ "$KAFKA_EXTERNAL" != 1 ] || say "kafka: external (TANSIQ_KAFKA_EXTERNAL=1) at $(kafka_bootstrap), not started"
    kafka_up
    say "stack up in $(( $(now_ms) - t0 ))ms"
    [ "$PG_EXTERNAL" = 1 ] || [ "$PG_STATE" = reused ] || logs+=" $(rel "$PG_LOG")"
    case "$KAFKA_STATE" in started|running) logs+=" $(rel "$LOG_DIR/kafka.log") $(rel "$KAFKA_OUT")";; esac
    [ -z "$logs" ] || say "logs: $logs"
    say "env:   eval \"\$(ops/local/stack.sh env)\""
}

cmd_down() {
    lock
    if [ "$KAFKA_EXTERNAL" != 1 ]; then kafka_down; else say "kafka: external, left alone"; fi
    if [ "$PG_EXTERNAL" != 1 ]; then pg_down; else say "postgres: external, left alone"; fi
}

cmd_status() {
    local rc=0
    if [ "$PG_EXTERNAL" = 1 ]; then say "postgres: external (TANSIQ_PG_EXTERNAL=1), not managed here"
    else pg_status || rc=$?; fi
    if [ "$KAFKA_EXTERNAL" = 1 ]; then
        say "kafka:    external (TANSIQ_KAFKA_EXTERNAL=1) at ${KAFKA_BOOTSTRAP_SERVERS:-<KAFKA_BOOTSTRAP_SERVERS unset>}, not managed here"
    else kafka_status || rc=$?; fi
    return "$rc"
}

# `export NAME=value`, quoted only when needed, so that the line works for sh eval and for make
emit_export() {
    if [[ "$2" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then printf 'export %s=%s\n' "$1" "$2"
    else printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"; fi
}

cmd_env() {
    local s var
    emit_export KAFKA_BOOTSTRAP_SERVERS "${KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_HOST:$KAFKA_PORT}"
    for s in "${SERVICES[@]}"; do
        # The services run as the runtime role (no TRUNCATE, append-only audit); migrations as
        # the owner. An operator's own *_DATABASE_URL wins for both.
        var="${s^^}_DATABASE_URL" migration="${s^^}_MIGRATION_DATABASE_URL"
        owner="postgresql+asyncpg://$APP_USER:$APP_PASSWORD@$PG_HOST:$PG_PORT/$s"
        emit_export "$migration" "${!migration:-${!var:-$owner}}"
        emit_export "$var" "${!var:-postgresql+asyncpg://$RUNTIME_USER:$RUNTIME_PASSWORD@$PG_HOST:$PG_PORT/$s}"
    done
    emit_export TANSIQ_PG_ADMIN_URL "${TANSIQ_PG_ADMIN_URL:-postgresql://$APP_USER:$APP_PASSWORD@$PG_HOST:$PG_PORT/postgres}"
}

cmd_reset() {
    local f left=()
    cmd_down
    say "reset: deleting the local state"
    pg_reset
    kafka_reset "${1:-}"
    rm -rf "$LOG_DIR" "$RUN_DIR"
    for f in "$STATE_DIR"/* "$STATE_DIR"/.[!.]*; do
        [ -e "$f" ] && [ "$f" != "$STATE_DIR/.stack.lock" ] && left+=("$(basename "$f")")
    done
    if [ "${#left[@]}" = 0 ]; then rm -rf "$STATE_DIR"; say "reset: removed $(rel "$STATE_DIR")"
    else say "reset: left in $(rel "$STATE_DIR"): ${left[*]}"; fi
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
    up)      cmd_up ;;
    down)    cmd_down ;;
    status)  cmd_status ;;
    env)     cmd_env ;;
    topics)  [ "$KAFKA_EXTERNAL" != 1 ] || kafka_bootstrap >/dev/null; lock; kafka_topics_only ;;
    reset)   shift; cmd_reset "$@" ;;
    -h|--help|help) usage ;;
    *)       usage >&2; exit 2 ;;
esac
