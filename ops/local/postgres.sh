#!/usr/bin/env bash
# Local PostgreSQL for Tansiq: a cluster of its own in .local/pg on 127.0.0.1:$PGPORT (55432),
# with the owner role `tansiq` (migrations, tests), the runtime role `tansiq_app` and one
# database per service (pg_trgm in each). Installs Debian's `postgresql` when it is missing.
# Sourced by stack.sh; alone: bash ops/local/postgres.sh up|down|status
# shellcheck shell=bash
[ -n "${LOCAL_DIR:-}" ] || source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST=127.0.0.1
PG_PORT="${PGPORT:-55432}"
PG_SUPERUSER=postgres
APP_USER=tansiq              # owns the databases: migrations and tests connect as it
APP_PASSWORD=tansiq
RUNTIME_USER=tansiq_app      # what the services run as; migrations grant it what it needs
RUNTIME_PASSWORD=tansiq_app
PG_READY_TIMEOUT=30

# As root the server runs as the `postgres` OS user, who must reach the cluster; when it cannot
# traverse the checkout, the cluster goes under postgres' home, recorded in pg.location.
PG_LOCATION_FILE="$STATE_DIR/pg.location"
if [ -f "$PG_LOCATION_FILE" ]; then PG_BASE="$(cat "$PG_LOCATION_FILE")"; else PG_BASE="$STATE_DIR/pg"; fi
set_pg_paths() {
    PG_DATA="$PG_BASE/data"
    PG_RUN="$PG_BASE/run"
    if [ "$PG_BASE" = "$STATE_DIR/pg" ]; then PG_LOG="$LOG_DIR/postgres.log"; else PG_LOG="$PG_BASE/postgres.log"; fi
}
set_pg_paths

as_pg() {
    if [ "$IS_ROOT" = 1 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

PG_BIN=""
find_pg_bin() {
    local d v
    if [ -f "$PG_DATA/PG_VERSION" ]; then   # an existing cluster needs its own major version
        v="$(cat "$PG_DATA/PG_VERSION")"
        if [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ]; then PG_BIN="/usr/lib/postgresql/$v/bin"; return 0; fi
        d="$(pg_config --bindir 2>/dev/null || true)"
        if [ -x "$d/pg_ctl" ] && "$d/pg_ctl" --version | grep -q " ${v}[.]"; then PG_BIN="$d"; return 0; fi
        return 1
    fi
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then PG_BIN="$d"; fi
    # Debian: /usr/lib/postgresql/<major>/bin, the highest major wins
    d="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
    if [ -x "$d/initdb" ] && { [ -z "$PG_BIN" ] || [ "$(printf '%s\n%s\n' "$PG_BIN" "$d" | sort -V | tail -n 1)" = "$d" ]; }; then
        PG_BIN="$d"
    fi
    [ -n "$PG_BIN" ]
}

pg_ensure_installed() {
    find_pg_bin && return 0
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        die "the cluster in $(rel "$PG_DATA") is PostgreSQL $(cat "$PG_DATA/PG_VERSION") but its binaries are missing:
  install postgresql-$(cat "$PG_DATA/PG_VERSION"), or drop the local data: ops/local/stack.sh reset"
    fi
    if [ "$IS_ROOT" = 1 ] && command -v apt-get >/dev/null 2>&1; then
        say "PostgreSQL server binaries not found; installing the Debian package 'postgresql'"
        apt_install postgresql || die "apt-get install postgresql failed"
        find_pg_bin || die "PostgreSQL still not found after installing it"
    else
        die "PostgreSQL server binaries (initdb, pg_ctl) not found. On Debian/Ubuntu: sudo apt-get install postgresql
  (or use a server of your own: TANSIQ_PG_EXTERNAL=1 plus the *_DATABASE_URL variables)"
    fi
}

pg_version() { "$PG_BIN/postgres" --version 2>/dev/null | awk '{print $3}'; }

pg_pid() {
    local pid
    pid="$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
    [ -n "$pid" ] && proc_alive "$pid" && grep -q postgres "/proc/$pid/comm" 2>/dev/null || return 1
    printf '%s' "$pid"
}
pg_running() { pg_pid >/dev/null; }

# as root: let `postgres` traverse every directory down to $1 (chmod o+x where needed)
make_traversable_for_postgres() {
    local p="$1" d comps=()
    while [ "$p" != "/" ]; do comps=("$p" "${comps[@]}"); p="$(dirname "$p")"; done
    for d in "${comps[@]}"; do
        (cd / && runuser -u postgres -- test -x "$d") 2>/dev/null && continue
        chmod o+x "$d" 2>/dev/null || return 1
        say "  chmod o+x $d   (the postgres user must traverse it to reach the cluster)"
    done
}

pg_prepare_dirs() {
    mkdir -p "$LOG_DIR"
    if [ "$IS_ROOT" = 1 ]; then
        getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' OS user to run the server
  (install the Debian package postgresql, or run the stack as an ordinary user)"
        if [ ! -f "$PG_DATA/PG_VERSION" ] && [ "$PG_BASE" = "$STATE_DIR/pg" ]; then
            mkdir -p "$PG_BASE"
            if ! make_traversable_for_postgres "$PG_BASE" || ! make_traversable_for_postgres "$LOG_DIR"; then
                PG_BASE="/var/lib/postgresql/tansiq-local-$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)"
                warn "the postgres user cannot reach $STATE_DIR; putting the cluster in $PG_BASE instead"
                printf '%s\n' "$PG_BASE" > "$PG_LOCATION_FILE"
                rmdir "$STATE_DIR/pg" 2>/dev/null || true
                set_pg_paths
            fi
        fi
        mkdir -p "$PG_DATA" "$PG_RUN"
        chown postgres:postgres "$PG_DATA" "$PG_RUN"
        chmod 700 "$PG_DATA"
        chmod 750 "$PG_RUN"     # the superuser socket (trust auth): postgres and root only
        touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
    else
        mkdir -p "$PG_DATA" "$PG_RUN"
        chmod 700 "$PG_DATA" "$PG_RUN"
        touch "$PG_LOG"
    fi
}

pg_initdb() {
    local locale=C
    # C.UTF-8: code-point collation but Unicode character classes, which pg_trgm needs to make
    # trigrams of Arabic words
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8
    else warn "locale C.UTF-8 not available; using C (pg_trgm will ignore non-ASCII letters)"; fi
    say "postgres: initdb $(rel "$PG_DATA") (PostgreSQL $(pg_version))"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_SUPERUSER" -E UTF8 --locale="$locale" \
        --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 \
        || { tail -n 20 "$PG_LOG" >&2; die "initdb failed (log: $PG_LOG)"; }
    printf "\n# Tansiq local settings (rewritten by ops/local/postgres.sh)\ninclude = 'tansiq.conf'\n" \
        | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
}

# settings that may change between runs (port, socket dir); returns 0 when the file changed
pg_write_conf() {
    local new old=""
    new="# managed by ops/local/postgres.sh -- edits are overwritten
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '${PG_RUN//\'/\'\'}'
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
    [ "$new" != "$old" ] || return 1
    printf '%s\n' "$new" | as_pg tee "$PG_DATA/tansiq.conf" >/dev/null
}

pg_psql() {
    PGOPTIONS='-c client_min_messages=warning' "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h "$PG_RUN" -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres "$@"
}

pg_wait_ready() {
    local start deadline
    start="$(now_ms)"
    deadline=$(( start + PG_READY_TIMEOUT * 1000 ))
    until "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" -d postgres -U "$PG_SUPERUSER" 2>/dev/null; do
        # the postmaster writes its pid file within milliseconds: none after 3 s means it died
        if [ "$(now_ms)" -ge "$deadline" ] || { ! pg_running && [ $(( $(now_ms) - start )) -gt 3000 ]; }; then
            tail -n 20 "$PG_LOG" >&2
            die "PostgreSQL did not become ready (log: $PG_LOG)"
        fi
        sleep 0.1
    done
}

# A PostgreSQL on our port that this checkout did not start but that already has the Tansiq
# role and databases (another checkout's stack, e.g. CI's fresh clone): used as it is.
pg_port_serves_tansiq() {
    local n
    n="$(PGPASSWORD="$APP_PASSWORD" PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -At -h "$PG_HOST" -p "$PG_PORT" \
        -U "$APP_USER" -d postgres -c "select count(*) from pg_database where datname = any('{$(IFS=,; echo "${SERVICES[*]}")}')" \
        2>/dev/null || true)"
    [ "$n" = "${#SERVICES[@]}" ]
}

# PG_STATE after it: started | running | reused (another stack serves the port)
pg_start() {
    if pg_running; then
        local port
        port="$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)"
        [ -z "$port" ] || [ "$port" = "$PG_PORT" ] \
            || die "the PostgreSQL of this checkout runs on port $port, not $PG_PORT (PGPORT): run 'down' first"
        if pg_write_conf; then warn "PostgreSQL settings changed: run 'down' then 'up' to apply them"; fi
        PG_STATE=running; return 0
    fi
    if port_open "$PG_PORT"; then
        pg_port_serves_tansiq || die "port $PG_PORT is taken by another process (another PostgreSQL?). Set PGPORT to a free port."
        PG_STATE=reused; return 0
    fi
    pg_prepare_dirs
    [ -f "$PG_DATA/PG_VERSION" ] || pg_initdb
    pg_write_conf || true
    # a kill -9'd postmaster nobody reaps stays a zombie whose pid looks alive: drop its lock files
    local f pid
    for f in "$PG_DATA/postmaster.pid" "$PG_RUN/.s.PGSQL.$PG_PORT.lock"; do
        pid="$(head -n 1 "$f" 2>/dev/null || true)"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! proc_alive "$pid"; then
            warn "removing $(basename "$f") of the dead (zombie) server pid $pid"; rm -f "$f"
        fi
    done
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -W start >/dev/null 9>&- \
        || { tail -n 20 "$PG_LOG" >&2; die "pg_ctl start failed (log: $PG_LOG)"; }
    PG_STATE=started
    say "postgres: starting PostgreSQL $(pg_version) on $PG_HOST:$PG_PORT"
}

# CREATE ROLE $1 (password $2) when missing; ALTER it when it lacks the attributes $3, given as
# the pg_roles condition $4
role_sql() {
    cat <<SQL
SELECT format('CREATE ROLE %I $3 PASSWORD %L', '$1', '$2')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$1') \gexec
SELECT format('ALTER ROLE %I $3', rolname) FROM pg_roles WHERE rolname = '$1' AND NOT ($4) \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', rolname, '$2') FROM pg_authid
 WHERE rolname = '$1' AND rolpassword IS NULL \gexec
SQL
}

# roles, databases, extensions: each statement only when something is missing (a second run
# changes nothing)
pg_provision() {
    local d dbs
    dbs="ARRAY[$(printf "'%s'," "${SERVICES[@]}" | sed 's/,$//')]"
    {
        role_sql "$APP_USER" "$APP_PASSWORD" "LOGIN CREATEDB NOSUPERUSER" \
            "rolcanlogin AND rolcreatedb AND NOT rolsuper"
        role_sql "$RUNTIME_USER" "$RUNTIME_PASSWORD" "LOGIN NOCREATEDB NOSUPERUSER NOCREATEROLE" \
            "rolcanlogin AND NOT rolcreatedb AND NOT rolsuper AND NOT rolcreaterole"
        # The tests drop their databases WITH (FORCE): an autovacuum worker in one is only
        # terminated for a member of pg_signal_backend.
        cat <<SQL
SELECT format('GRANT pg_signal_backend TO %I', '$APP_USER')
 WHERE NOT pg_has_role('$APP_USER', 'pg_signal_backend', 'MEMBER') \gexec
\connect template1
CREATE EXTENSION IF NOT EXISTS pg_trgm;
\connect postgres
SELECT format('CREATE DATABASE %I OWNER %I', d, '$APP_USER') FROM unnest($dbs) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d) \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', datname, '$APP_USER') FROM pg_database
 WHERE datname = ANY($dbs) AND pg_get_userbyid(datdba) <> '$APP_USER' \gexec
SQL
        for d in "${SERVICES[@]}"; do printf '\\connect %s\nCREATE EXTENSION IF NOT EXISTS pg_trgm;\n' "$d"; done
    } | pg_psql >/dev/null || die "creating the roles/databases failed"
}

pg_up() {
    pg_ensure_installed
    [ -n "${PG_STATE:-}" ] || pg_start
    if [ "$PG_STATE" = reused ]; then
        say "postgres: $PG_HOST:$PG_PORT is served by a PostgreSQL this checkout did not start, with"
        say "          role $APP_USER and the databases (another checkout's stack?): using it"
        return 0
    fi
    pg_wait_ready
    pg_provision
    if [ "$PG_STATE" = started ]; then say "postgres: ready"; else say "postgres: already running"; fi
    say "postgres: roles $APP_USER (owner), $RUNTIME_USER (runtime); databases ${SERVICES[*]} (pg_trgm in each)"
}

pg_down() {
    if ! pg_running; then say "postgres: not running"; return 0; fi
    find_pg_bin || die "cannot find pg_ctl to stop the server"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    say "postgres: stopped (data kept in $(rel "$PG_DATA"))"
}

pg_status() {
    local pid
    if pid="$(pg_pid)"; then
        find_pg_bin || true
        if [ -n "$PG_BIN" ] && "$PG_BIN/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT" -d postgres -U "$PG_SUPERUSER" 2>/dev/null; then
            say "postgres: running   pid $pid, PostgreSQL $(pg_version), $PG_HOST:$PG_PORT, data $(rel "$PG_DATA")"
        else
            say "postgres: starting/not accepting connections   pid $pid"; return 3
        fi
    elif port_open "$PG_PORT"; then
        say "postgres: not started from this checkout, but $PG_HOST:$PG_PORT is served by another process"
        say "          (another checkout's stack? \`up\` uses it if it has the tansiq role and databases)"
    else
        say "postgres: stopped"; return 3
    fi
}

pg_reset() {
    if [ "$PG_BASE" != "$STATE_DIR/pg" ]; then rm -rf "$PG_BASE"; rm -f "$PG_LOCATION_FILE"; fi
    rm -rf "$STATE_DIR/pg"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        up)     lock; pg_up ;;
        down)   lock; pg_down ;;
        status) pg_status ;;
        *)      sed -n '2,5p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
fi
