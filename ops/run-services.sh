#!/usr/bin/env bash
# Runs the four services on their local ports (registry 8001, agreements 8002, engagements 8003,
# reporting 8004), then loads the demo data (`tansiq seed`) once every /health/ready answers 200.
# `foreground`: until Ctrl-C, then stops them and the stack; `background`: returns once ready
# and seeded; `stop`: stops what `background` started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
run="$root/.local/run"
logs="$root/.local/logs"
mkdir -p "$run" "$logs"
services=(registry agreements engagements reporting)
declare -A ports=([registry]=8001 [agreements]=8002 [engagements]=8003 [reporting]=8004)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ours() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

start_all() {
  # Another process on a port (often another checkout's services) would answer the readiness
  # checks and the demo seeding in place of ours, which could not bind: nothing is started.
  for s in "${services[@]}"; do
    if ! ours "$s" && port_open "${ports[$s]}"; then
      echo "port ${ports[$s]} ($s) is taken by a process this checkout did not start;" \
        "stop it (another checkout: its \`make stop\`) and run again" >&2
      return 1
    fi
  done
  for s in "${services[@]}"; do
    if ours "$s"; then
      echo "$s already running (pid $(cat "$run/$s.pid"))"
      continue
    fi
    "$root/.venv/bin/tansiq" serve "$s" --port "${ports[$s]}" >>"$logs/$s.log" 2>&1 &
    echo $! >"$run/$s.pid"
    echo "$s starting on 127.0.0.1:${ports[$s]} (log: .local/logs/$s.log)"
  done
}

wait_ready() {
  local deadline=$((SECONDS + ${READY_TIMEOUT:-60}))
  for s in "${services[@]}"; do
    until curl -fs -o /dev/null "http://127.0.0.1:${ports[$s]}/health/ready"; do
      if ! kill -0 "$(cat "$run/$s.pid")" 2>/dev/null; then
        echo "$s exited; last lines of .local/logs/$s.log:" >&2
        tail -n 20 "$logs/$s.log" >&2
        return 1
      fi
      if [ $SECONDS -ge $deadline ]; then
        echo "$s not ready in time; see .local/logs/$s.log" >&2
        return 1
      fi
      sleep 0.2
    done
    echo "$s ready: http://127.0.0.1:${ports[$s]}/health/ready"
  done
}

seed_demo() {
  # Idempotent: records already there are kept as users left them.
  "$root/.venv/bin/tansiq" seed
}

stop_all() {
  for s in "${services[@]}"; do
    if [ -f "$run/$s.pid" ]; then
      pid="$(cat "$run/$s.pid")"
      if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        echo "$s stopped"
      fi
      rm -f "$run/$s.pid"
    fi
  done
}

case "${1:-}" in
  foreground)
    # Ctrl-C reaches the whole process group: the services stop on their own signal, and this
    # trap makes sure of them and stops the stack. SIGPIPE ignored: a pager or tee in front may
    # already be gone, and the clean-up must still run.
    trap '' PIPE
    trap 'echo "stopping..." || true; stop_all || true; bash "$root/ops/local/stack.sh" down || true; exit 0' INT TERM
    start_all
    wait_ready
    seed_demo
    echo "Tansiq is up. Ctrl-C stops everything."
    tail -n 0 -F "$logs"/{registry,agreements,engagements,reporting}.log &
    wait
    ;;
  background) start_all; wait_ready; seed_demo ;;
  stop) stop_all ;;
  *) echo "usage: $0 foreground|background|stop" >&2; exit 2 ;;
esac
