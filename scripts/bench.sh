#!/usr/bin/env bash
# Benchmarks recorded in BENCHMARKS.md. Absolute times on a shared machine are noisy; compare
# the ratios measured within one run.
#
#   scripts/bench.sh            # all three
#   scripts/bench.sh scheduler  # criterion: executor overhead on a 10,000-node no-op DAG
#   scripts/bench.sh plan       # criterion: incremental no-change plan of a 1,000-node project
#   scripts/bench.sh validate   # tauro-cli validate on a generated 1,000-node project
#   scripts/bench.sh etl        # daily_etl wall time vs the sum of its nodes' times
#   scripts/bench.sh store      # run store: task-run state updates/s from 16 workers, SQLite and PostgreSQL
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
runs="${BENCH_RUNS:-20}"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

bench_scheduler() {
  echo "== scheduler (cargo bench -p tauro-exec --bench scheduler)"
  cargo bench -q -p tauro-exec --bench scheduler
}

bench_plan() {
  echo "== incremental plan (cargo bench -p tauro-exec --bench plan)"
  cargo bench -q -p tauro-exec --bench plan
}

bench_validate() {
  echo "== tauro-cli validate, 1,000-node project (release build, median of $runs runs)"
  cargo build -q --release -p tauro-cli
  local dir; dir=$(mktemp -d)
  python3 scripts/bench/gen_project.py "$dir" 1000 10 >/dev/null
  target/release/tauro-cli validate --project "$dir" >/dev/null
  for _ in $(seq "$runs"); do
    local t0 t1; t0=$(date +%s%N)
    target/release/tauro-cli validate --project "$dir" >/dev/null
    t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))
  done | median | awk '{printf "validate 1000 nodes: median %.1f ms\n", $1/1000}'
  rm -rf "$dir"
}

bench_etl() {
  echo "== daily_etl: parallel wall time vs sum of node times vs --max-workers 1"
  scripts/setup.sh >/dev/null
  cargo build -q --release -p tauro-cli
  export SC_PORT="${SC_PORT:-15002}"
  local started=0
  if ! scripts/spark-connect-local.sh status >/dev/null 2>&1; then
    scripts/spark-connect-local.sh start; started=1
  fi
  trap '[[ $started == 1 ]] && scripts/spark-connect-local.sh stop' RETURN
  local out; out=$(mktemp -d)
  local remote="sc://127.0.0.1:$SC_PORT"
  run() {
    DAILY_ETL_OUTPUT="$out" target/release/tauro-cli --output json exec --project examples/daily_etl \
      --pipeline daily_etl --start 2025-01-01 --end 2025-01-14 --remote "$remote" "$@"
  }
  run >/dev/null   # warm the server's JIT and caches
  for i in 1 2 3; do
    run > "$out/parallel_$i.json"
    run --max-workers 1 > "$out/serial_$i.json"
  done
  python3 - "$out" <<'PY'
import json, sys, statistics
out = sys.argv[1]
def load(kind):
    return [json.load(open(f"{out}/{kind}_{i}.json")) for i in (1, 2, 3)]
par, ser = load("parallel"), load("serial")
wall = statistics.median(r["duration_secs"] for r in par)
node_sum = statistics.median(sum(n["duration_secs"] for n in r["nodes"]) for r in par)
serial = statistics.median(r["duration_secs"] for r in ser)
print(f"parallel (max_workers 4): wall {wall:.2f} s, sum of node times {node_sum:.2f} s, ratio {node_sum / wall:.2f}x")
print(f"serial   (max_workers 1): wall {serial:.2f} s; speed-up of parallel over serial {serial / wall:.2f}x")
PY
  rm -rf "$out"
}

bench_store() {
  echo "== run store load (cargo bench -p tauro-orchest --bench store_load)"
  cargo bench -q -p tauro-orchest --bench store_load
}

case "$what" in
  scheduler) bench_scheduler ;;
  plan) bench_plan ;;
  validate) bench_validate ;;
  etl) bench_etl ;;
  store) bench_store ;;
  all) bench_scheduler; bench_plan; bench_validate; bench_etl; bench_store ;;
  *) echo "usage: $0 [scheduler|plan|validate|etl|store|all]" >&2; exit 2 ;;
esac
