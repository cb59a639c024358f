#!/usr/bin/env bash
# Local infrastructure for Tansiq development and tests: PostgreSQL + Apache Kafka (KRaft),
# run as plain processes (no Docker). State lives in <repo>/.local/ (git-ignored).
#
#   ops/local/stack.sh up        start PostgreSQL and Kafka if not running (idempotent, fast when
#                                already up), then ensure role/databases/extensions and topics
#   ops/local/stack.sh down      stop what `up` started; data stays
#   ops/local/stack.sh status    print whether each is running (exit 3 if something is not)
#   ops/local/stack.sh env       print `export VAR=value` lines: eval "$(ops/local/stack.sh env)"
#   ops/local/stack.sh topics    (re)create the topics idempotently (also done by `up`)
#   ops/local/stack.sh reset     down + delete the local state (keeps the downloaded Kafka jars
#                                and files in .local/ that this script does not own; --all: jars too)
#
# If PGPORT / the Kafka port is already served by a stack this checkout did not start (another
# checkout of the repo on the same machine, e.g. CI's fresh clone), `up` uses it when it is a
# Tansiq one (tansiq role + databases / a Kafka broker) instead of failing; `down` leaves it alone.
#
# Environment knobs:
#   PGPORT                      local PostgreSQL port (default 55432)
#   TANSIQ_KAFKA_PORT           local Kafka port (default 9092); controller: TANSIQ_KAFKA_CONTROLLER_PORT (9093)
#   TOPIC_PREFIX                prepended verbatim to every topic name
#   TOPIC_REPLICATION_FACTOR    replication factor for new topics (default 1)
#   TANSIQ_PG_EXTERNAL=1        do not start PostgreSQL; `env` echoes the *_DATABASE_URL already set
#   TANSIQ_KAFKA_EXTERNAL=1     do not start Kafka; use KAFKA_BOOTSTRAP_SERVERS as given
#                               (`up`/`topics` still ensure the topics there)
#   TANSIQ_MVN_ARGS             extra arguments for the one-time Maven fetch of the Kafka jars
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"
STATE_DIR="$REPO_ROOT/.local"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"

# ---------------------------------------------------------------- settings
PG_HOST=127.0.0.1
PG_PORT="${PGPORT:-55432}"
PG_SUPERUSER=postgres
APP_USER=tansiq
APP_PASSWORD=tansiq
SERVICES=(registry agreements engagements reporting)
PG_READY_TIMEOUT=30

KAFKA_SRC="$SCRIPT_DIR/kafka"
KAFKA_DIR="$STATE_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_DATA="$KAFKA_DIR/data"
KAFKA_CLASSES="$KAFKA_DIR/classes"
KAFKA_PROPS="$KAFKA_DIR/server.properties"
KAFKA_CLUSTER_ID_FILE="$KAFKA_DIR/cluster.id"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${TANSIQ_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${TANSIQ_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_READY_TIMEOUT=60
KAFKA_STOP_TIMEOUT=60

DOMAIN_TOPICS=(registry.organization.v1 agreements.agreement.v1 engagements.engagement.v1 engagements.ingest.v1)
TOPIC_PARTITIONS=3
DOMAIN_RETENTION_MS=-1          # kept forever: events are replayed
DLQ_RETENTION_MS=2592000000     # 30 days

PG_EXTERNAL="${TANSIQ_PG_EXTERNAL:-0}"
KAFKA_EXTERNAL="${TANSIQ_KAFKA_EXTERNAL:-0}"

IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

# ---------------------------------------------------------------- helpers
say()  { printf '%s\n' "$*"; }
warn() { printf 'stack.sh: %s\n' "$*" >&2; }
die()  { printf 'stack.sh: ERROR: %s\n' "$*" >&2; exit 1; }
rel()  { case "$1" in "$REPO_ROOT"/*) printf '%s' "${1#"$REPO_ROOT"/}";; *) printf '%s' "$1";; esac; }

# monotonic-enough clock in milliseconds (bash 5: EPOCHREALTIME)
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
    [ "$IS_ROOT" = 1 ] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    say "installing with apt-get: $*"
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || return 1
}

lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/.stack.lock"
    if ! flock -n 9; then
        say "another stack.sh is running; waiting for it..."
        flock -w 600 9 || die "could not get the lock $STATE_DIR/.stack.lock"
    fi
}

# ================================================================ PostgreSQL

# The cluster normally lives in .local/pg. When running as root the server runs as the
# `postgres` OS user, who must be able to traverse every directory down to it; if that cannot
# be arranged, `up` relocates the cluster under postgres' home and records it here.
PG_LOCATION_FILE="$STATE_DIR/pg.location"
if [ -f "$PG_LOCATION_FILE" ]; then PG_BASE="$(cat "$PG_LOCATION_FILE")"; else PG_BASE="$STATE_DIR/pg"; fi
set_pg_paths() {
    PG_DATA="$PG_BASE/data"
    PG_RUN="$PG_BASE/run"
    if [ "$PG_BASE" = "$STATE_DIR/pg" ]; then PG_LOG="$LOG_DIR/postgres.log"; else PG_LOG="$PG_BASE/postgres.log"; fi
}
set_pg_paths

# run a command as the OS user that owns the cluster
as_pg() {
    if [ "$IS_ROOT" = 1 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

PG_BIN=""
find_pg_bin() {
    local d v
    # an existing cluster must be run by its own major version
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        v="$(cat "$PG_DATA/PG_VERSION")"
        if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then PG_BIN="/usr/lib/postgresql/$v/bin"; return 0; fi
        if command -v pg_config >/dev/null 2>&1; then
            d="$(pg_config --bindir 2>/dev/null || true)"
            if [ -x "$d/pg_ctl" ] && "$d/pg_ctl" --version | grep -q " ${v}[.]"; then PG_BIN="$d"; return 0; fi
        fi
        return 1
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then PG_BIN="$d"; fi
    fi
    # Debian: /usr/lib/postgresql/<major>/bin, highest major wins (and beats pg_config's libpq guess)
    d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
        if [ -z "$PG_BIN" ] || [ "$(printf '%s\n%s\n' "$PG_BIN" "$d" | sort -V | tail -n 1)" = "$d" ]; then PG_BIN="$d"; fi
    fi
    [ -n "$PG_BIN" ]
}

ensure_pg_installed() {
    find_pg_bin && return 0
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        die "the cluster in $(rel "$PG_DATA") is PostgreSQL $(cat "$PG_DATA/PG_VERSION") but those binaries are not installed.
  install postgresql-$(cat "$PG_DATA/PG_VERSION"), or throw the local data away: ops/local/stack.sh reset"
    fi
    if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL server binaries not found; installing the Debian package 'postgresql'"
        apt_install postgresql || die "apt-get install postgresql failed"
        find_pg_bin || die "PostgreSQL still not found after installing it"
    else
        die "PostgreSQL server binaries (initdb, pg_ctl) not found.
  Install them, e.g. on Debian/Ubuntu:  sudo apt-get install postgresql
  (or point at an existing server: TANSIQ_PG_EXTERNAL=1 plus the *_DATABASE_URL variables)"
    fi
}

pg_version() { "$PG_BIN/postgres" --version 2>/dev/null | awk '{print $3}'; }

pg_pid() {
    local pid
    [ -f "$PG_DATA/postmaster.pid" ] || return 1
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && proc_alive "$pid" || return 1
    grep -q postgres "/proc/$pid/comm" 2>/dev/null || return 1
    printf '%s' "$pid"
}
pg_running() { pg_pid >/dev/null; }

# as root: make sure `postgres` can reach $1 (chmod o+x on the path components that need it)
make_traversable_for_postgres() {
    local target="$1" p d comps=()
    runuser -u postgres -- test -x "$target" 2>/dev/null && return 0
    p="$target"
    while [ "$p" != "/" ]; do comps=("$p" "${comps[@]}"); p="$(dirname "$p")"; done
    for d in "${comps[@]}"; do
        if ! (cd / && runuser -u postgres -- test -x "$d") 2>/dev/null; then
            if chmod o+x "$d" 2>/dev/null; then
                say "  chmod o+x $d   (the postgres user must traverse it to reach the cluster)"
            else
                return 1
            fi
        fi
    done
    (cd / && runuser -u postgres -- test -x "$target") 2>/dev/null
}

prepare_pg_dirs() {
    mkdir -p "$LOG_DIR"
    if [ "$IS_ROOT" = 1 ]; then
        getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' OS user to run the server as
  (install the Debian package postgresql, or run stack.sh as an ordinary user)"
        if [ ! -f "$PG_DATA/PG_VERSION" ] && [ "$PG_BASE" = "$STATE_DIR/pg" ]; then
            mkdir -p "$PG_BASE" "$LOG_DIR"
            if ! make_traversable_for_postgres "$PG_BASE" || ! make_traversable_for_postgres "$LOG_DIR"; then
                PG_BASE="/var/lib/postgresql/tansiq-local-$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
                warn "the postgres user cannot reach $STATE_DIR; putting the cluster in $PG_BASE instead"
                printf '%s\n' "$PG_BASE" > "$PG_LOCATION_FILE"
                rmdir "$STATE_DIR/pg" 2>/dev/null || true
                set_pg_paths
            fi
        fi
        mkdir -p "$PG_BASE" "$PG_DATA" "$PG_RUN"
        chown postgres:postgres "$PG_DATA" "$PG_RUN"
        chmod 700 "$PG_DATA"
        chmod 750 "$PG_RUN"     # superuser socket (trust auth): postgres and root only
        touch "$PG_LOG"
        chown postgres:postgres "$PG_LOG"
    else
        mkdir -p "$PG_DATA" "$PG_RUN"
        chmod 700 "$PG_DATA" "$PG_RUN"
        touch "$PG_LOG"
    fi
}

pg_initdb() {
    local locale_args
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        # C.UTF-8: code-point collation, but Unicode character classes, which pg_trgm needs
        # to make trigrams out of non-ASCII (e.g. Arabic) words
        locale_args=(--locale=C.UTF-8)
    else
        warn "locale C.UTF-8 not available; using C (pg_trgm will ignore non-ASCII letters)"
        locale_args=(--locale=C)
    fi
    say "postgres: initdb $(rel "$PG_DATA") (PostgreSQL $(pg_version))"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" -E UTF8 "${locale_args[@]}" \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 \
        || { tail -n 20 "$PG_LOG" >&2; die "initdb failed (log: $PG_LOG)"; }
    printf "\n# Tansiq local dev settings (rewritten by ops/local/stack.sh up)\ninclude = 'tansiq.conf'\n" \
        | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# settings that may change between runs (port, socket dir): rewritten on every `up`
pg_write_conf() {
    local sockdir="${PG_RUN//\'/\'\'}" new old=""
    new="# managed by ops/local/stack.sh -- edits are overwritten
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sockdir'
max_connections = 200
shared_buffers = 128MB
# durability stays on: records must not be lost
fsync = on
synchronous_commit = on
full_page_writes = on
password_encryption = scram-sha-256
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '"
    [ -f "$PG_DATA/tansiq.conf" ] && old="$(cat "$PG_DATA/tansiq.conf")"
    if [ "$new" != "$old" ]; then
        printf '%s\n' "$new" | as_pg tee "$PG_DATA/tansiq.conf" >/dev/null
        return 0    # changed
    fi
    return 1
}

pg_wait_ready() {
    local start deadline
    start="$(now_ms)"
    deadline=$(( start + PG_READY_TIMEOUT * 1000 ))
    while ! "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" -d postgres -U "$PG_SUPERUSER" 2>/dev/null; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            tail -n 20 "$PG_LOG" >&2
            die "PostgreSQL not ready after ${PG_READY_TIMEOUT}s (log: $PG_LOG)"
        fi
        # the postmaster writes its pid file within milliseconds; no live postmaster after 3 s = it died
        if ! pg_running && [ $(( $(now_ms) - start )) -gt 3000 ]; then
            tail -n 20 "$PG_LOG" >&2
            die "PostgreSQL is not running (it exited during startup?) (log: $PG_LOG)"
        fi
        sleep 0.1
    done
}

# A PostgreSQL on our port that is not ours but already serves the Tansiq role and databases
# (typically the stack of another checkout of this repo on the same machine): usable as is.
pg_port_serves_tansiq() {
    local dbs="" d n
    for d in "${SERVICES[@]}"; do dbs+="'$d',"; done
    n="$(PGPASSWORD="$APP_PASSWORD" PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -At -h "$PG_HOST" -p "$PG_PORT" \
        -U "$APP_USER" -d postgres -c "select count(*) from pg_database where datname in (${dbs%,})" \
        2>/dev/null || true)"
    [ "$n" = "${#SERVICES[@]}" ]
}

PG_REUSED=0
pg_start() {
    # returns 0 when it started the server, 1 when it was already running (or PG_REUSED=1:
    # another Tansiq PostgreSQL already serves the port)
    if pg_running; then
        local running_port
        running_port="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
        if [ -n "$running_port" ] && [ "$running_port" != "$PG_PORT" ]; then
            die "PostgreSQL of this checkout runs on port $running_port, not $PG_PORT (PGPORT): run 'down' first"
        fi
        if pg_write_conf; then warn "PostgreSQL settings changed: run 'down' then 'up' to apply them"; fi
        return 1
    fi
    if port_open "$PG_PORT"; then
        if pg_port_serves_tansiq; then PG_REUSED=1; return 1; fi
        die "port $PG_PORT is already taken by another process (a different PostgreSQL?). Set PGPORT to a free port."
    fi
    prepare_pg_dirs
    [ -f "$PG_DATA/PG_VERSION" ] || pg_initdb
    pg_write_conf || true
    # A kill -9'd postmaster that nobody reaps (container without an init) stays a zombie, and
    # the new postmaster would take its pid as alive: drop the lock file of a zombie only.
    local lockfile old_pid
    for lockfile in "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$PG_PORT.lock"; do
        old_pid="$(head -n 1 "$lockfile" 2>/dev/null || true)"
        if [ -n "$old_pid" ] && kill -0 "$old_pid" 2>/dev/null && ! proc_alive "$old_pid"; then
            warn "removing $(basename "$lockfile") of the dead (zombie) server pid $old_pid"
            rm -f "$lockfile"
        fi
    done
    # 9>&-: the server must not inherit the stack.sh lock
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W start >/dev/null 9>&- \
        || { tail -n 20 "$PG_LOG" >&2; die "pg_ctl start failed (log: $PG_LOG)"; }
    return 0
}

pg_provision() {
    local dbs_sql="" d
    for d in "${SERVICES[@]}"; do dbs_sql+="'$d',"; done
    dbs_sql="ARRAY[${dbs_sql%,}]"
    {
        cat <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB NOSUPERUSER PASSWORD %L', '$APP_USER', '$APP_PASSWORD')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$APP_USER') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB NOSUPERUSER', rolname) FROM pg_roles
 WHERE rolname = '$APP_USER' AND NOT (rolcanlogin AND rolcreatedb AND NOT rolsuper) \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', rolname, '$APP_PASSWORD') FROM pg_authid
 WHERE rolname = '$APP_USER' AND rolpassword IS NULL \gexec
\connect template1
CREATE EXTENSION IF NOT EXISTS pg_trgm;
\connect postgres
SELECT format('CREATE DATABASE %I OWNER %I', d, '$APP_USER') FROM unnest($dbs_sql) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', datname, '$APP_USER') FROM pg_database
 WHERE datname = ANY($dbs_sql) AND pg_get_userbyid(datdba) <> '$APP_USER' \gexec
SQL
        for d in "${SERVICES[@]}"; do
            printf '\\connect %s\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\n' "$d"
        done
    } | PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
            -h "$PG_RUN" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres >/dev/null \
        || die "creating the role/databases failed"
}

pg_stop() {
    if ! pg_running; then say "postgres: not running"; return 0; fi
    find_pg_bin || die "cannot find pg_ctl to stop the server"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    say "postgres: stopped (data kept in $(rel "$PG_DATA"))"
}

# ================================================================ Kafka

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_SRC/pom.xml" | head -n 1; }

java_major() {
    local v
    v="$(java -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
    case "$v" in 1.*) v="${v#1.}";; esac
    printf '%s' "${v%%[.+-]*}"
}

ensure_java() {
    if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
        apt_install default-jdk-headless \
            || die "Kafka 4.x needs Java 17+ (a JDK). Install e.g.: apt-get install default-jdk-headless"
        [ "$(java_major)" -ge 17 ] || die "Kafka 4.x needs Java 17+; 'java' is $(java_major)"
    fi
}

ensure_maven() {
    command -v mvn >/dev/null 2>&1 && return 0
    apt_install maven || die "Maven (mvn) is needed once to fetch the Kafka jars. Install e.g.: apt-get install maven"
}

libs_stamp() { printf 'kafka=%s pom=%s\n' "$(kafka_version)" "$(sha256sum "$KAFKA_SRC/pom.xml" | cut -c1-16)"; }

ensure_kafka_libs() {
    local stamp tmp
    stamp="$(libs_stamp)"
    if [ -f "$KAFKA_LIBS/.tansiq-libs" ] && [ "$(cat "$KAFKA_LIBS/.tansiq-libs")" = "$stamp" ]; then
        return 0
    fi
    ensure_java
    ensure_maven
    say "kafka: fetching Kafka $(kafka_version) jars with Maven into $(rel "$KAFKA_LIBS") (one time)"
    mkdir -p "$KAFKA_DIR"
    tmp="$KAFKA_DIR/libs.tmp.$$"
    rm -rf "$tmp"
    # shellcheck disable=SC2086
    # (sed: Maven 3.8 prints bare ANSI reset codes even in batch mode)
    if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_SRC/pom.xml" dependency:copy-dependencies \
            -Dtansiq.kafka.libs="$tmp" ${TANSIQ_MVN_ARGS:-} 2>&1 | sed -u 's/\x1b\[[0-9;]*m//g'; then
        rm -rf "$tmp"
        die "Maven could not fetch the Kafka jars (see output above)"
    fi
    printf '%s\n' "$stamp" > "$tmp/.tansiq-libs"
    if kafka_running; then warn "Kafka jars changed while the broker runs: run 'down' then 'up' to use them"; fi
    rm -rf "$KAFKA_LIBS" "$KAFKA_CLASSES"
    mv "$tmp" "$KAFKA_LIBS"
}

# CreateTopics.java: compiled once into .local/kafka/classes (a JVM start is ~0.5 s cheaper than
# single-file source launch); without javac, source launch is used.
ADMIN_CMD=()
prepare_admin_tool() {
    local src="$KAFKA_SRC/CreateTopics.java" cls="$KAFKA_CLASSES/CreateTopics.class"
    local jvm=(java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto -Xmx128m
               "-Dlog4j2.configurationFile=$KAFKA_SRC/log4j2-tools.xml")
    if [ -f "$cls" ] && [ "$cls" -nt "$src" ]; then
        ADMIN_CMD=("${jvm[@]}" -cp "$KAFKA_CLASSES:$KAFKA_LIBS/*" CreateTopics)
        return 0
    fi
    if command -v javac >/dev/null 2>&1; then
        mkdir -p "$KAFKA_CLASSES"
        if javac -nowarn -cp "$KAFKA_LIBS/*" -d "$KAFKA_CLASSES" "$src"; then
            ADMIN_CMD=("${jvm[@]}" -cp "$KAFKA_CLASSES:$KAFKA_LIBS/*" CreateTopics)
            return 0
        fi
        warn "javac failed on CreateTopics.java; trying single-file source launch"
    fi
    ADMIN_CMD=("${jvm[@]}" -cp "$KAFKA_LIBS/*" "$src")
}

kafka_bootstrap() {
    if [ "$KAFKA_EXTERNAL" = 1 ]; then
        [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || die "TANSIQ_KAFKA_EXTERNAL=1 but KAFKA_BOOTSTRAP_SERVERS is not set"
        printf '%s' "$KAFKA_BOOTSTRAP_SERVERS"
    else
        printf '%s:%s' "$KAFKA_HOST" "$KAFKA_PORT"
    fi
}

kafka_pid() {
    local pid
    [ -f "$KAFKA_PID_FILE" ] || return 1
    pid="$(cat "$KAFKA_PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] && proc_alive "$pid" || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $KAFKA_PROPS" || return 1
    printf '%s' "$pid"
}
kafka_running() { kafka_pid >/dev/null; }

kafka_render_props() {
    local tpl new old=""
    tpl="$(cat "$KAFKA_SRC/server.properties.template")"
    new="${tpl//@@HOST@@/"$KAFKA_HOST"}"
    new="${new//@@PORT@@/"$KAFKA_PORT"}"
    new="${new//@@CONTROLLER_PORT@@/"$KAFKA_CONTROLLER_PORT"}"
    new="${new//@@LOG_DIRS@@/"$KAFKA_DATA"}"
    [ -f "$KAFKA_PROPS" ] && old="$(cat "$KAFKA_PROPS")"
    if [ "$new" != "$old" ]; then
        printf '%s\n' "$new" > "$KAFKA_PROPS"
        return 0
    fi
    return 1
}

kafka_java() {
    java "-Dlog4j2.configurationFile=$KAFKA_SRC/log4j2-tools.xml" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -cp "$KAFKA_LIBS/*" "$@"
}

kafka_format() {
    [ -f "$KAFKA_DATA/meta.properties" ] && return 0
    local cid
    if [ -s "$KAFKA_CLUSTER_ID_FILE" ]; then
        cid="$(cat "$KAFKA_CLUSTER_ID_FILE")"
    else
        cid="$(kafka_java kafka.tools.StorageTool random-uuid | tail -n 1)"
        [ -n "$cid" ] || die "kafka.tools.StorageTool random-uuid returned nothing"
        printf '%s\n' "$cid" > "$KAFKA_CLUSTER_ID_FILE"
    fi
    say "kafka: formatting KRaft storage in $(rel "$KAFKA_DATA") (cluster id $cid)"
    mkdir -p "$KAFKA_DATA"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cid" -c "$KAFKA_PROPS" >>"$LOG_DIR/kafka.out" 2>&1 \
        || { tail -n 20 "$LOG_DIR/kafka.out" >&2; die "formatting Kafka storage failed"; }
}

KAFKA_REUSED=0
kafka_start() {
    # returns 0 when it started the broker, 1 when it was already running (or KAFKA_REUSED=1:
    # another broker, e.g. another checkout's stack, already serves the port and answers)
    if kafka_running; then
        if [ -f "$KAFKA_PROPS" ] && kafka_render_props; then
            warn "Kafka settings changed: run 'down' then 'up' to apply"
        fi
        return 1
    fi
    ensure_java
    ensure_kafka_libs
    mkdir -p "$KAFKA_DIR" "$KAFKA_DATA" "$LOG_DIR" "$RUN_DIR"
    if port_open "$KAFKA_PORT"; then
        prepare_admin_tool
        if "${ADMIN_CMD[@]}" --bootstrap "$KAFKA_HOST:$KAFKA_PORT" --wait 10 --check-only >/dev/null 2>&1; then
            KAFKA_REUSED=1
            return 1
        fi
        die "port $KAFKA_PORT is already taken by a process that is not a Kafka broker; stop it or set TANSIQ_KAFKA_PORT"
    fi
    if port_open "$KAFKA_CONTROLLER_PORT"; then
        die "port $KAFKA_CONTROLLER_PORT is already taken by another process; stop it or set TANSIQ_KAFKA_CONTROLLER_PORT"
    fi
    kafka_render_props || true
    kafka_format
    printf '\n==== %s starting kafka.Kafka\n' "$(date -Is)" >>"$LOG_DIR/kafka.out"
    # setsid: own session, so Ctrl-C in the terminal that ran `make up` does not reach the broker
    (
        cd "$KAFKA_DIR"
        exec 9>&-   # the broker must not inherit the stack.sh lock
        exec nohup setsid java -Xms256m -Xmx512m -server \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
            "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j2.configurationFile=$KAFKA_SRC/log4j2.xml" \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS"
    ) >>"$LOG_DIR/kafka.out" 2>&1 </dev/null &
    printf '%s\n' "$!" > "$KAFKA_PID_FILE"
    return 0
}

kafka_wait_port() {
    local deadline=$(( $(now_ms) + KAFKA_READY_TIMEOUT * 1000 ))
    while ! port_open "$KAFKA_PORT"; do
        if ! kafka_running; then
            tail -n 30 "$LOG_DIR/kafka.out" >&2
            tail -n 30 "$LOG_DIR/kafka.log" >&2 2>/dev/null || true
            die "Kafka exited during startup (logs: $LOG_DIR/kafka.log, $LOG_DIR/kafka.out)"
        fi
        [ "$(now_ms)" -lt "$deadline" ] || die "Kafka did not open port $KAFKA_PORT within ${KAFKA_READY_TIMEOUT}s (log: $LOG_DIR/kafka.log)"
        sleep 0.1
    done
    # what is left of the budget goes to the metadata check
    KAFKA_WAIT_LEFT=$(( (deadline - $(now_ms)) / 1000 ))
    [ "$KAFKA_WAIT_LEFT" -ge 5 ] || KAFKA_WAIT_LEFT=5
}

topic_args() {
    local t
    for t in "${DOMAIN_TOPICS[@]}"; do
        printf '%s\n' "${TOPIC_PREFIX:-}$t=$DOMAIN_RETENTION_MS" "${TOPIC_PREFIX:-}$t.dlq=$DLQ_RETENTION_MS"
    done
}

TOPICS_STAMP="$KAFKA_DIR/topics.stamp"
topics_spec_hash() {
    { topic_args; printf '%s %s %s\n' "$TOPIC_PARTITIONS" "${TOPIC_REPLICATION_FACTOR:-1}" "$(kafka_bootstrap)"; } \
        | sha256sum | cut -c1-16
}

# Fast path for `up` on an already running local broker: the last ensure with the same topic
# spec succeeded and every partition directory is still in the broker's log dir (a deleted
# topic's directories are renamed away at once), so a JVM start (~1.5 s) is not needed.
topics_known_present() {
    [ "$KAFKA_EXTERNAL" != 1 ] && [ "$KAFKA_REUSED" = 0 ] && [ -f "$TOPICS_STAMP" ] || return 1
    [ "$(cat "$TOPICS_STAMP")" = "$(topics_spec_hash)" ] || return 1
    topic_dirs_present
}
topic_dirs_present() {
    local line t p
    while IFS= read -r line; do
        t="${line%=*}"
        for ((p = 0; p < TOPIC_PARTITIONS; p++)); do [ -d "$KAFKA_DATA/$t-$p" ] || return 1; done
    done < <(topic_args)
}

# readiness (a metadata request that succeeds) + topics, in one JVM
kafka_ensure_topics() {
    local wait_s="${1:-30}" args=()
    ensure_java
    ensure_kafka_libs
    prepare_admin_tool
    mapfile -t args < <(topic_args)
    rm -f "$TOPICS_STAMP"
    "${ADMIN_CMD[@]}" --bootstrap "$(kafka_bootstrap)" --wait "$wait_s" \
        --partitions "$TOPIC_PARTITIONS" --replication-factor "${TOPIC_REPLICATION_FACTOR:-1}" "${args[@]}" \
        || die "ensuring the Kafka topics on $(kafka_bootstrap) failed"
    if [ "$KAFKA_EXTERNAL" != 1 ] && [ "$KAFKA_REUSED" = 0 ]; then
        # the broker creates the partition directories of new topics a moment after the
        # controller has accepted them: wait (bounded) so the next `up` can take the fast path
        local deadline=$(( $(now_ms) + 5000 ))
        until topic_dirs_present || [ "$(now_ms)" -ge "$deadline" ]; do sleep 0.1; done
        topics_spec_hash > "$TOPICS_STAMP"
    fi
}

kafka_stop() {
    local pid deadline
    if ! pid="$(kafka_pid)"; then
        rm -f "$KAFKA_PID_FILE"
        say "kafka: not running"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(( $(now_ms) + KAFKA_STOP_TIMEOUT * 1000 ))
    while proc_alive "$pid"; do
        if [ "$(now_ms)" -ge "$deadline" ]; then
            warn "Kafka (pid $pid) did not stop within ${KAFKA_STOP_TIMEOUT}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$KAFKA_PID_FILE"
    say "kafka: stopped (data kept in $(rel "$KAFKA_DATA"))"
}

# ================================================================ commands

require_external_bootstrap() {
    if [ "$KAFKA_EXTERNAL" = 1 ] && [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
        die "TANSIQ_KAFKA_EXTERNAL=1 but KAFKA_BOOTSTRAP_SERVERS is not set"
    fi
}

cmd_up() {
    local t0 pg_started=0 kafka_started=0
    t0="$(now_ms)"
    require_external_bootstrap
    lock
    mkdir -p "$LOG_DIR" "$RUN_DIR"

    # start both first, wait for both after: the two start-ups overlap
    if [ "$PG_EXTERNAL" != 1 ]; then
        ensure_pg_installed
        if pg_start; then pg_started=1; say "postgres: starting PostgreSQL $(pg_version) on $PG_HOST:$PG_PORT"; fi
    fi
    if [ "$KAFKA_EXTERNAL" != 1 ]; then
        if kafka_start; then kafka_started=1; say "kafka: starting Kafka $(kafka_version) on $KAFKA_HOST:$KAFKA_PORT"; fi
    fi

    if [ "$PG_EXTERNAL" != 1 ] && [ "$PG_REUSED" = 1 ]; then
        say "postgres: $PG_HOST:$PG_PORT is served by a PostgreSQL not started from this checkout that"
        say "          already has role $APP_USER and the databases (another checkout's stack?): using it"
    elif [ "$PG_EXTERNAL" != 1 ]; then
        pg_wait_ready
        pg_provision
        if [ "$pg_started" = 1 ]; then say "postgres: ready"; else say "postgres: already running"; fi
        say "postgres: role $APP_USER, databases ${SERVICES[*]} (pg_trgm in each and in template1)"
    else
        say "postgres: external (TANSIQ_PG_EXTERNAL=1), not started; databases are not provisioned"
    fi

    KAFKA_WAIT_LEFT=30
    if [ "$KAFKA_EXTERNAL" != 1 ] && [ "$KAFKA_REUSED" = 1 ]; then
        say "kafka: $KAFKA_HOST:$KAFKA_PORT is served by a Kafka broker not started from this checkout"
        say "       (another checkout's stack?): using it"
    elif [ "$KAFKA_EXTERNAL" != 1 ]; then
        kafka_wait_port
        if [ "$kafka_started" = 1 ]; then say "kafka: port open, checking metadata and topics"; else say "kafka: already running"; fi
    else
        say "kafka: external (TANSIQ_KAFKA_EXTERNAL=1) at $(kafka_bootstrap), not started"
    fi
    if [ "$kafka_started" = 0 ] && topics_known_present; then
        say "kafka: topics present (${#DOMAIN_TOPICS[@]} domain + ${#DOMAIN_TOPICS[@]} .dlq, prefix '${TOPIC_PREFIX:-}')"
    elif [ "$kafka_started" = 1 ]; then
        kafka_ensure_topics "$KAFKA_WAIT_LEFT"
    else
        kafka_ensure_topics "$KAFKA_WAIT_LEFT" | { grep -v '^  ok ' || true; }
    fi

    say "stack up in $(( $(now_ms) - t0 ))ms"
    local logs=""
    if [ "$PG_EXTERNAL" != 1 ] && [ "$PG_REUSED" = 0 ]; then logs+=" $(rel "$PG_LOG")"; fi
    if [ "$KAFKA_EXTERNAL" != 1 ] && [ "$KAFKA_REUSED" = 0 ]; then
        logs+=" $(rel "$LOG_DIR/kafka.log") $(rel "$LOG_DIR/kafka.out")"
    fi
    [ -z "$logs" ] || say "logs: $logs"
    say "env:   eval \"\$(ops/local/stack.sh env)\""
}

cmd_down() {
    lock
    if [ "$KAFKA_EXTERNAL" != 1 ]; then kafka_stop; else say "kafka: external, left alone"; fi
    if [ "$PG_EXTERNAL" != 1 ]; then pg_stop; else say "postgres: external, left alone"; fi
}

cmd_status() {
    local rc=0 pid
    if [ "$PG_EXTERNAL" = 1 ]; then
        say "postgres: external (TANSIQ_PG_EXTERNAL=1), not managed here"
    elif pid="$(pg_pid)"; then
        find_pg_bin || true
        if [ -n "$PG_BIN" ] && "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" -d postgres -U "$PG_SUPERUSER" 2>/dev/null; then
            say "postgres: running   pid $pid, PostgreSQL $(pg_version), $PG_HOST:$PG_PORT, data $(rel "$PG_DATA")"
        else
            say "postgres: starting/not accepting connections   pid $pid"; rc=3
        fi
    elif port_open "$PG_PORT"; then
        say "postgres: not started from this checkout, but $PG_HOST:$PG_PORT is served by another process"
        say "          (another checkout's stack? \`up\` uses it if it has the tansiq role and databases)"
    else
        say "postgres: stopped"; rc=3
    fi
    if [ "$KAFKA_EXTERNAL" = 1 ]; then
        say "kafka:    external (TANSIQ_KAFKA_EXTERNAL=1) at ${KAFKA_BOOTSTRAP_SERVERS:-<KAFKA_BOOTSTRAP_SERVERS unset>}, not managed here"
    elif pid="$(kafka_pid)"; then
        if port_open "$KAFKA_PORT"; then
            say "kafka:    running   pid $pid, Kafka $(kafka_version), $KAFKA_HOST:$KAFKA_PORT, data $(rel "$KAFKA_DATA")"
        else
            say "kafka:    starting (port $KAFKA_PORT not open yet)   pid $pid"; rc=3
        fi
    elif port_open "$KAFKA_PORT"; then
        say "kafka:    not started from this checkout, but $KAFKA_HOST:$KAFKA_PORT is served by another process"
        say "          (another checkout's stack? \`up\` uses it if it answers as a Kafka broker)"
    else
        say "kafka:    stopped"; rc=3
    fi
    return "$rc"
}

# `export NAME=value`, quoted only when needed, so the line works for sh eval and for make
emit_export() {
    local name="$1" value="$2"
    if [[ "$value" =~ ^[A-Za-z0-9_@%+=:,./-]*$ ]]; then
        printf 'export %s=%s\n' "$name" "$value"
    else
        printf "export %s='%s'\n" "$name" "${value//\'/\'\\\'\'}"
    fi
}

cmd_env() {
    local s var base="postgresql://$APP_USER:$APP_PASSWORD@$PG_HOST:$PG_PORT"
    emit_export KAFKA_BOOTSTRAP_SERVERS "${KAFKA_BOOTSTRAP_SERVERS:-$KAFKA_HOST:$KAFKA_PORT}"
    for s in "${SERVICES[@]}"; do
        var="$(printf '%s' "$s" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
        emit_export "$var" "${!var:-postgresql+asyncpg://$APP_USER:$APP_PASSWORD@$PG_HOST:$PG_PORT/$s}"
    done
    emit_export TANSIQ_PG_ADMIN_URL "${TANSIQ_PG_ADMIN_URL:-$base/postgres}"
}

cmd_topics() {
    require_external_bootstrap
    lock
    if [ "$KAFKA_EXTERNAL" != 1 ] && ! kafka_running; then
        port_open "$KAFKA_PORT" || die "Kafka is not running: ops/local/stack.sh up"
        KAFKA_REUSED=1    # another checkout's broker serves the port
    fi
    say "kafka: ensuring topics on $(kafka_bootstrap) (prefix '${TOPIC_PREFIX:-}')"
    kafka_ensure_topics 30
}

cmd_reset() {
    local all=0
    [ "${1:-}" = "--all" ] && all=1
    cmd_down
    say "reset: deleting local state"
    if [ "$PG_BASE" != "$STATE_DIR/pg" ]; then rm -rf "$PG_BASE"; rm -f "$PG_LOCATION_FILE"; fi
    rm -rf "$STATE_DIR/pg" "$KAFKA_DATA" "$KAFKA_CLUSTER_ID_FILE" "$KAFKA_PROPS" "$KAFKA_CLASSES" "$TOPICS_STAMP" \
           "$KAFKA_DIR"/libs.tmp.* "$LOG_DIR" "$RUN_DIR"
    if [ "$all" = 1 ]; then rm -rf "$KAFKA_LIBS"; else say "reset: kept $(rel "$KAFKA_LIBS") (downloaded jars; 'reset --all' deletes them too)"; fi
    rmdir "$KAFKA_DIR" 2>/dev/null || true
    local left=() f
    for f in "$STATE_DIR"/* "$STATE_DIR"/.[!.]*; do
        [ -e "$f" ] && [ "$f" != "$STATE_DIR/.stack.lock" ] && left+=("$(basename "$f")")
    done
    if [ "${#left[@]}" = 0 ]; then
        rm -rf "$STATE_DIR"
        say "reset: removed $(rel "$STATE_DIR")"
    else
        say "reset: left in $(rel "$STATE_DIR"): ${left[*]}"
    fi
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

case "${1:-}" in
    up)      cmd_up ;;
    down)    cmd_down ;;
    status)  cmd_status ;;
    env)     cmd_env ;;
    topics)  cmd_topics ;;
    reset)   shift; cmd_reset "$@" ;;
    -h|--help|help) usage ;;
    *)       usage >&2; exit 2 ;;
esac
