#!/usr/bin/env bash
# A local Sail server (a Spark Connect server written in Rust, from the pysail wheel) for tests.
#
#   scripts/sail-local.sh start|stop|status
#
# Serves sc://127.0.0.1:$SAIL_PORT (default 50051). State (log, pid file, working directory:
# Sail's in-memory catalog writes managed tables under it) lives in $SAIL_STATE (default
# <repo>/target/sail). The `sail` program comes from $TAURO_SAIL_BIN, else the cached venv of
# scripts/setup.sh, else PATH.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="${TAURO_SAIL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/sail-venv}"
SAIL=${TAURO_SAIL_BIN:-}
if [[ -z $SAIL && -x $VENV/bin/sail ]]; then SAIL=$VENV/bin/sail; fi
if [[ -z $SAIL ]]; then SAIL=$(command -v sail || true); fi
SAIL_PORT=${SAIL_PORT:-50051}
SAIL_STATE=${SAIL_STATE:-$ROOT/target/sail}
SAIL_START_TIMEOUT=${SAIL_START_TIMEOUT:-30}
PIDFILE="$SAIL_STATE/sail-$SAIL_PORT.pid"
LOG="$SAIL_STATE/sail-$SAIL_PORT.log"

# Sail implements grpc.health.v1: grpc-status 0 when serving.
grpc_up() {
  if command -v curl >/dev/null 2>&1; then
    printf '\x00\x00\x00\x00\x00' | curl -s -m 2 --http2-prior-knowledge -X POST \
      -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- -D - -o /dev/null \
      "http://127.0.0.1:$SAIL_PORT/grpc.health.v1.Health/Check" 2>/dev/null | grep -qi '^grpc-status'
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$SAIL_PORT") 2>/dev/null
  fi
}

start() {
  if [[ -z $SAIL || ! -x $SAIL ]]; then
    echo "no Sail found: run scripts/setup.sh, or set TAURO_SAIL_BIN" >&2
    exit 1
  fi
  if grpc_up; then echo "port $SAIL_PORT already serves gRPC" >&2; exit 1; fi
  mkdir -p "$SAIL_STATE/work"
  setsid "$SAIL" spark server --ip 127.0.0.1 --port "$SAIL_PORT" -C "$SAIL_STATE/work" \
    >"$LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  local deadline=$((SECONDS + SAIL_START_TIMEOUT))
  until grpc_up; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "Sail died:" >&2; tail -n 40 "$LOG" >&2; exit 1; fi
    if ((SECONDS >= deadline)); then echo "not ready in ${SAIL_START_TIMEOUT}s" >&2; stop; exit 1; fi
    sleep 0.1
  done
  echo "Sail ready: sc://127.0.0.1:$SAIL_PORT (pid $pid)"
}

stop() {
  [[ -f $PIDFILE ]] || { echo "not running"; return 0; }
  local pid; pid=$(cat "$PIDFILE"); kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -9 "$pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
  rm -f "$PIDFILE"; echo "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if grpc_up; then echo "up: sc://127.0.0.1:$SAIL_PORT"; else echo down; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
