#!/usr/bin/env bash
# A local Spark Connect server for tests and CI, kept in the background.
#
#   scripts/spark-connect-local.sh start|stop|status
#
# Serves sc://127.0.0.1:$SC_PORT (default 15002). SC_UI_PORT=<port> also serves the Spark UI and
# its REST API (jobs with their Spark Connect tags), off by default. State (logs, pid file, warehouse, Derby
# metastore) lives in $SC_STATE (default <repo>/target/spark-connect), never in the venv.
# Spark comes from $SPARK_HOME, else the cached venv of scripts/setup.sh, else the pyspark
# that python3 imports.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV="${TAURO_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/spark-venv}"
if [[ -z ${SPARK_HOME:-} ]]; then
  SPARK_HOME=$(compgen -G "$VENV/lib/python3*/site-packages/pyspark" | tail -n 1 || true)
fi
if [[ -z ${SPARK_HOME:-} ]]; then
  SPARK_HOME=$(python3 -c 'import pyspark, os; print(os.path.dirname(pyspark.__file__))' 2>/dev/null || true)
fi
SC_PORT=${SC_PORT:-15002}
SC_STATE=${SC_STATE:-$ROOT/target/spark-connect}
SC_MASTER=${SC_MASTER:-local[2]}
SC_START_TIMEOUT=${SC_START_TIMEOUT:-120}
SC_STOP_TIMEOUT=${SC_STOP_TIMEOUT:-30}
export SPARK_HOME SPARK_LOG_DIR="$SC_STATE/logs" SPARK_PID_DIR="$SC_STATE/pid" SPARK_IDENT_STRING="sc$SC_PORT"
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
PIDFILE="$SPARK_PID_DIR/spark-$SPARK_IDENT_STRING-org.apache.spark.sql.connect.service.SparkConnectServer-1.pid"

# Spark has no gRPC health service: it answers grpc-status 12, and any grpc-status means up.
grpc_up() {
  if command -v curl >/dev/null 2>&1; then
    printf '\x00\x00\x00\x00\x00' | curl -s -m 2 --http2-prior-knowledge -X POST \
      -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- -D - -o /dev/null \
      "http://127.0.0.1:$SC_PORT/grpc.health.v1.Health/Check" 2>/dev/null | grep -qi '^grpc-status'
  else # without curl, an open port has to do
    (exec 3<>"/dev/tcp/127.0.0.1/$SC_PORT") 2>/dev/null
  fi
}

log_tail() { tail -n 40 "$SPARK_LOG_DIR"/*.out 2>/dev/null >&2 || true; }

start() {
  if [[ -z $SPARK_HOME || ! -x $SPARK_HOME/sbin/start-connect-server.sh ]]; then
    echo "no Spark found: run scripts/setup.sh, or set SPARK_HOME" >&2
    exit 1
  fi
  if grpc_up; then echo "port $SC_PORT already serves gRPC" >&2; exit 1; fi
  mkdir -p "$SC_STATE"/{logs,pid,warehouse}
  # The Spark UI (and its REST API of jobs) only when SC_UI_PORT asks for it.
  local ui_conf=(--conf spark.ui.enabled=false)
  if [[ -n ${SC_UI_PORT:-} ]]; then
    ui_conf=(--conf spark.ui.enabled=true --conf spark.ui.port="$SC_UI_PORT")
  fi
  "$SPARK_HOME/sbin/start-connect-server.sh" --master "$SC_MASTER" --driver-memory 1g \
    --conf spark.connect.grpc.binding.address=127.0.0.1 --conf spark.connect.grpc.binding.port="$SC_PORT" \
    --conf spark.sql.warehouse.dir="$SC_STATE/warehouse" --conf spark.sql.catalogImplementation=hive \
    "${ui_conf[@]}" --conf spark.sql.shuffle.partitions=4 \
    --driver-java-options "-Dderby.system.home=$SC_STATE" >/dev/null
  local pid; pid=$(cat "$PIDFILE"); local deadline=$((SECONDS + SC_START_TIMEOUT))
  until grpc_up; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "server died:" >&2; log_tail; exit 1; fi
    if ((SECONDS >= deadline)); then echo "not ready in ${SC_START_TIMEOUT}s" >&2; log_tail; stop; exit 1; fi
    sleep 0.25
  done
  echo "Spark Connect ready: sc://127.0.0.1:$SC_PORT (pid $pid)"
}

# sbin/stop-connect-server.sh only sends SIGTERM and does not wait; we wait, then SIGKILL.
stop() {
  [[ -f $PIDFILE ]] || { echo "not running"; return 0; }
  local pid; pid=$(cat "$PIDFILE"); kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + SC_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then kill -9 "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  rm -f "$PIDFILE"; echo "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if grpc_up; then echo "up: sc://127.0.0.1:$SC_PORT"; else echo down; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
