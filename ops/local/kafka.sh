#!/usr/bin/env bash
# Local Apache Kafka for Tansiq: one KRaft node (broker + controller) on 127.0.0.1:9092, run from
# the jars Maven fetches once (kafka/pom.xml) into .local/kafka/libs; the topics are created by
# the project's own `tansiq events topics`.
# Sourced by stack.sh; alone: bash ops/local/kafka.sh up|down|status|topics
# shellcheck shell=bash
[ -n "${LOCAL_DIR:-}" ] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_SRC="$LOCAL_DIR/kafka"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_LIBS="${TANSIQ_KAFKA_LIBS:-$KAFKA_DIR/libs}"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_OUT="$LOG_DIR/kafka.out"
TOPICS_STAMP="$KAFKA_DIR/topics.stamp"
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${TANSIQ_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${TANSIQ_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_READY_TIMEOUT=60

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_SRC/pom.xml" | head -n 1; }

kafka_bootstrap() {
    if [ "$KAFKA_EXTERNAL" = 1 ]; then
        [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || die "TANSIQ_KAFKA_EXTERNAL=1 but KAFKA_BOOTSTRAP_SERVERS is not set"
        printf '%s' "$KAFKA_BOOTSTRAP_SERVERS"
    else
        printf '%s:%s' "$KAFKA_HOST" "$KAFKA_PORT"
    fi
}

java_major() {
    local v
    v="$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
    v="${v#1.}"
    printf '%s' "${v%%[.+-]*}"
}

ensure_java() {
    command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] && return 0
    apt_install default-jdk-headless \
        || die "Kafka 4.x needs Java 17+. Install e.g.: apt-get install default-jdk-headless"
    [ "$(java_major)" -ge 17 ] || die "Kafka 4.x needs Java 17+; 'java' is $(java_major)"
}

# the jars, fetched again when the pom changes (marker file)
ensure_kafka_libs() {
    local stamp tmp
    stamp="kafka=$(kafka_version) pom=$(sha256sum "$KAFKA_SRC/pom.xml" | cut -c1-16)"
    [ "$(cat "$KAFKA_LIBS/.tansiq-libs" 2>/dev/null)" = "$stamp" ] && return 0
    ensure_java
    command -v mvn >/dev/null 2>&1 || apt_install maven \
        || die "Maven (mvn) is needed once to fetch the Kafka jars. Install e.g.: apt-get install maven"
    say "kafka: fetching the Kafka $(kafka_version) jars with Maven into $(rel "$KAFKA_LIBS") (one time)"
    tmp="$KAFKA_LIBS.tmp.$$"
    rm -rf "$tmp"
    # sed: Maven 3.8 prints bare ANSI reset codes even in batch mode
    # shellcheck disable=SC2086
    if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" dependency:copy-dependencies \
            -Dtansiq.kafka.libs="$tmp" ${TANSIQ_MVN_ARGS:-} 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g'; then
        rm -rf "$tmp"
        die "Maven could not fetch the Kafka jars (see above)"
    fi
    printf '%s\n' "$stamp" > "$tmp/.tansiq-libs"
    if kafka_running; then warn "the Kafka jars changed while the broker runs: 'down' then 'up' to use them"; fi
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
}

kafka_pid() {
    local pid
    pid="$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] && proc_alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $KAFKA_PROPS" || return 1
    printf '%s' "$pid"
}
kafka_running() { kafka_pid >/dev/null; }

# returns 0 when server.properties changed
kafka_render_props() {
    local new old=""
    new="$(sed -e "s|@@HOST@@|$KAFKA_HOST|g" -e "s|@@PORT@@|$KAFKA_PORT|g" \
               -e "s|@@CONTROLLER_PORT@@|$KAFKA_CONTROLLER_PORT|g" -e "s|@@LOG_DIRS@@|$KAFKA_DATA|g" \
               "$KAFKA_SRC/server.properties.template")"
    [ -f "$KAFKA_PROPS" ] && old="$(cat "$KAFKA_PROPS")"
    [ "$new" != "$old" ] || return 1
    printf '%s\n' "$new" > "$KAFKA_PROPS"
}

kafka_format() {
    [ -f "$KAFKA_DATA/meta.properties" ] && return 0
    local cid tool=(java "-Dlog4j2.configurationFile=$KAFKA_SRC/log4j2-tools.xml" -XX:TieredStopAtLevel=1
                    -XX:+UseSerialGC -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool)
    cid="$(cat "$KAFKA_CLUSTER_ID_FILE" 2>/dev/null || true)"
    if [ -z "$cid" ]; then
        cid="$("${tool[@]}" random-uuid | tail -n 1)"
        [ -n "$cid" ] || die "kafka.tools.StorageTool random-uuid returned nothing"
        printf '%s\n' "$cid" > "$KAFKA_CLUSTER_ID_FILE"
    fi
    say "kafka: formatting KRaft storage in $(rel "$KAFKA_DATA") (cluster id $cid)"
    mkdir -p "$KAFKA_DATA"
    "${tool[@]}" format --standalone -t "$cid" -c "$KAFKA_PROPS" >>"$KAFKA_OUT" 2>&1 \
        || { tail -n 20 "$KAFKA_OUT" >&2; die "formatting the Kafka storage failed"; }
}

# `admin.py wait`: the cluster answers a metadata request (exit 2 when not within $1 s)
kafka_answers() {
    ensure_venv
    "$VENV_BIN/python" "$KAFKA_SRC/admin.py" wait --bootstrap "$(kafka_bootstrap)" --timeout "$1" "${@:2}"
}

# KAFKA_STATE after it: started | running | reused (another checkout's broker serves the port)
kafka_start() {
    if kafka_running; then
        if kafka_render_props; then warn "Kafka settings changed: run 'down' then 'up' to apply them"; fi
        KAFKA_STATE=running; return 0
    fi
    if port_open "$KAFKA_PORT"; then
        kafka_answers 10 >/dev/null 2>&1 \
            || die "port $KAFKA_PORT is taken by a process that is not a Kafka broker; stop it or set TANSIQ_KAFKA_PORT"
        KAFKA_STATE=reused; return 0
    fi
    port_open "$KAFKA_CONTROLLER_PORT" \
        && die "port $KAFKA_CONTROLLER_PORT is taken by another process; stop it or set TANSIQ_KAFKA_CONTROLLER_PORT"
    ensure_java
    ensure_kafka_libs
    mkdir -p "$KAFKA_DATA" "$LOG_DIR" "$RUN_DIR"
    kafka_render_props || true
    kafka_format
    printf '\n==== %s starting kafka.Kafka\n' "$(date -Is)" >>"$KAFKA_OUT"
    # setsid: Ctrl-C in the terminal of `make up` must not reach the broker; 9>&-: nor the lock
    (
        cd "$KAFKA_DIR"
        exec 9>&-
        exec nohup setsid java -Xms256m -Xmx512m -server \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
            "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j2.configurationFile=$KAFKA_SRC/log4j2.xml" \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
    ) >>"$KAFKA_OUT" 2>&1 </dev/null &
    printf '%s\n' "$!" > "$KAFKA_PID_FILE"
    KAFKA_STATE=started
    say "kafka: starting Kafka $(kafka_version) on $KAFKA_HOST:$KAFKA_PORT"
}

kafka_wait_ready() {
    local deadline=$(( $(now_ms) + KAFKA_READY_TIMEOUT * 1000 )) left
    until port_open "$KAFKA_PORT"; do
        if ! kafka_running; then
            tail -n 30 "$KAFKA_OUT" >&2
            die "Kafka exited during startup (logs: $LOG_DIR/kafka.log, $KAFKA_OUT)"
        fi
        [ "$(now_ms)" -lt "$deadline" ] || die "Kafka did not open port $KAFKA_PORT in ${KAFKA_READY_TIMEOUT}s (log: $LOG_DIR/kafka.log)"
        sleep 0.1
    done
    left=$(( (deadline - $(now_ms)) / 1000 ))
    kafka_answers "$(( left > 5 ? left : 5 ))" || die "Kafka opened its port but does not answer (log: $LOG_DIR/kafka.log)"
}

# `name partitions` of every topic, prefixed; empty when the project's Python cannot tell
topic_spec() {
    [ -x "$VENV_BIN/python" ] || return 0
    "$VENV_BIN/python" "$KAFKA_SRC/admin.py" spec 2>/dev/null | sed "s|^|${TOPIC_PREFIX:-}|" || true
}
topics_key() { printf '%s\n%s %s\n' "$1" "${TOPIC_REPLICATION_FACTOR:-1}" "$(kafka_bootstrap)" | sha256sum | cut -c1-16; }
# every partition directory of every topic is in the broker's log dir (a deleted topic's
# directories are renamed away at once)
topic_dirs_present() {
    local name partitions p
    while read -r name partitions; do
        for ((p = 0; p < partitions; p++)); do [ -d "$KAFKA_DATA/$name-$p" ] || return 1; done
    done <<<"$1"
}

# The topics, by `tansiq events topics` (idempotent). A second `up` on our own running broker
# skips it (~4 s of imports) when the last run had the same topic list and the directories are there.
kafka_topics() {
    local spec own=0
    [ "$KAFKA_EXTERNAL" != 1 ] && [ "${KAFKA_STATE:-}" != reused ] && own=1
    spec="$(topic_spec)"
    if [ "$own" = 1 ] && [ -z "${TOPICS_FORCE:-}" ] && [ -n "$spec" ] && [ "$(cat "$TOPICS_STAMP" 2>/dev/null)" = "$(topics_key "$spec")" ] \
            && topic_dirs_present "$spec"; then
        say "kafka: topics present ($(wc -l <<<"$spec"), prefix '${TOPIC_PREFIX:-}')"
        return 0
    fi
    [ "${KAFKA_STATE:-}" = started ] || kafka_answers 30 || die "Kafka at $(kafka_bootstrap) does not answer"
    rm -f "$TOPICS_STAMP"
    "$VENV_BIN/tansiq" events topics --bootstrap "$(kafka_bootstrap)" --prefix "${TOPIC_PREFIX:-}" \
        --replication-factor "${TOPIC_REPLICATION_FACTOR:-1}" | sed 's/^/kafka: /' \
        || die "creating the Kafka topics on $(kafka_bootstrap) failed"
    [ "$own" = 1 ] && [ -n "$spec" ] || return 0
    # the broker makes the directories of new topics a moment after the controller accepted them
    local deadline=$(( $(now_ms) + 5000 ))
    until topic_dirs_present "$spec" || [ "$(now_ms)" -ge "$deadline" ]; do sleep 0.1; done
    topics_key "$spec" > "$TOPICS_STAMP"
}

# `topics` alone: on whatever broker serves the bootstrap address
kafka_topics_only() {
    if [ "$KAFKA_EXTERNAL" != 1 ] && ! kafka_running; then
        port_open "$KAFKA_PORT" || die "Kafka is not running: ops/local/stack.sh up"
        KAFKA_STATE=reused
    fi
    say "kafka: ensuring the topics on $(kafka_bootstrap) (prefix '${TOPIC_PREFIX:-}')"
    TOPICS_FORCE=1 kafka_topics
}

kafka_up() {
    [ -n "${KAFKA_STATE:-}" ] || kafka_start
    case "$KAFKA_STATE" in
        reused)  say "kafka: $KAFKA_HOST:$KAFKA_PORT is served by a Kafka broker this checkout did not start"
                 say "       (another checkout's stack?): using it" ;;
        started) kafka_wait_ready; say "kafka: ready" ;;
        running) say "kafka: already running" ;;
    esac
    kafka_topics
}

kafka_down() {
    local pid deadline
    if ! pid="$(kafka_pid)"; then rm -f "$KAFKA_PID_FILE"; say "kafka: not running"; return 0; fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + 60000 ))
    while proc_alive "$pid"; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            warn "Kafka (pid $pid) did not stop within 60s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$KAFKA_PID_FILE"
    say "kafka: stopped (data kept in $(rel "$KAFKA_DATA"))"
}

kafka_status() {
    local pid
    if pid="$(kafka_pid)"; then
        port_open "$KAFKA_PORT" || { say "kafka:    starting (port $KAFKA_PORT not open yet)   pid $pid"; return 3; }
        say "kafka:    running   pid $pid, Kafka $(kafka_version), $KAFKA_HOST:$KAFKA_PORT, data $(rel "$KAFKA_DATA")"
    elif port_open "$KAFKA_PORT"; then
        say "kafka:    not started from this checkout, but $KAFKA_HOST:$KAFKA_PORT is served by another process"
        say "          (another checkout's stack? \`up\` uses it if it answers as a Kafka broker)"
    else
        say "kafka:    stopped"; return 3
    fi
}

# what reset deletes; the jars stay unless $1 = --all
kafka_reset() {
    rm -rf "$KAFKA_DATA" "$KAFKA_CLUSTER_ID_FILE" "$KAFKA_PROPS" "$TOPICS_STAMP" "$KAFKA_DIR/classes" "$KAFKA_LIBS".tmp.*
    if [ "${1:-}" = --all ]; then rm -rf "$KAFKA_LIBS"
    else say "reset: kept $(rel "$KAFKA_LIBS") (the downloaded jars; 'reset --all' deletes them too)"; fi
    rmdir "$KAFKA_DIR" 2>/dev/null || true
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        up)     lock; kafka_up ;;
        down)   lock; kafka_down ;;
        status) kafka_status ;;
        topics) lock; kafka_topics_only ;;
        *)      sed -n '2,5p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
fi
