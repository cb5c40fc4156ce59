#!/usr/bin/env bash
# Benchmarks recorded in BENCHMARKS.md. Absolute times on a shared machine are noisy; compare
# the ratios measured within one run.
#
#   scripts/bench.sh            # everything
#   scripts/bench.sh scheduler  # criterion: executor overhead on a 10,000-node no-op DAG
#   scripts/bench.sh plan       # criterion: incremental no-change plan of a 1,000-node project
#   scripts/bench.sh validate   # tauro-cli validate on a generated 1,000-node project
#   scripts/bench.sh etl        # daily_etl wall time vs the sum of its nodes' times
#   scripts/bench.sh store      # run store: task-run state updates/s from 16 workers, SQLite and PostgreSQL
#   scripts/bench.sh overhead   # per-node overhead on Sail: 200 trivial nodes (chain, wide), 1 worker
#   scripts/bench.sh pyspark    # Tauro vs the same pipelines hand-written on pyspark-client (daily_etl, wide, deep)
#   scripts/bench.sh scale      # plan/schedule 10,000 and 100,000 no-op nodes; validate/plan a 10,000-node project
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

# Starts a Spark Connect server on $SC_PORT unless one answers there; sets `started`.
ensure_spark() {
  scripts/setup.sh >/dev/null
  export SC_PORT="${SC_PORT:-15002}"
  started=0
  if ! scripts/spark-connect-local.sh status >/dev/null 2>&1; then
    scripts/spark-connect-local.sh start; started=1
  fi
}

bench_pyspark() {
  echo "== Tauro vs a hand-written pyspark-client script (same Spark Connect server)"
  # The official Spark Connect client, in a cached virtualenv of its own, at the server's
  # Spark version when it is published, else the newest 4.x (the protocol is compatible
  # within a major version).
  local spark_version="${TAURO_PYSPARK_VERSION:-4.3.0}"
  local venv="${TAURO_PYCLIENT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/pyclient-venv}"
  if ! compgen -G "$venv/lib/python3*/site-packages/pyspark_client-*.dist-info" >/dev/null; then
    python3 -m venv "$venv"
    # pandas < 3: pyspark-client 4.x warns that it does not support pandas 3 yet.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "pyspark-client==$spark_version" "pandas<3" ||
      "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "pyspark-client<5" "pandas<3"
  fi
  "$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -i '^pyspark-client' || true
  cargo build -q --release -p tauro-cli
  ensure_spark
  trap '[[ $started == 1 ]] && scripts/spark-connect-local.sh stop' RETURN
  python3 scripts/bench/compare.py --cli target/release/tauro-cli --python "$venv/bin/python" \
    --remote "sc://127.0.0.1:$SC_PORT" --rounds "${BENCH_ROUNDS:-5}" \
    --workers "${BENCH_WORKERS:-4}" --workloads "${BENCH_WORKLOADS:-daily_etl,wide,deep}" \
    --work target/bench-pyspark
}

bench_scale() {
  echo "== scale: 10,000 and 100,000 synthetic nodes on a no-op engine (cargo bench -p tauro-exec --bench scale)"
  cargo bench -q -p tauro-exec --bench scale
  echo "== tauro-cli validate / plan, 10,000-node project (release build, median of 5 runs)"
  cargo build -q --release -p tauro-cli
  local dir; dir=$(mktemp -d)
  python3 scripts/bench/gen_project.py "$dir" 10000 1 >/dev/null   # one pipeline of 10,000 nodes
  for cmd in "validate --project $dir" "plan --project $dir --pipeline pipeline_0" \
    "plan --project $dir --pipeline pipeline_0 --full"; do
    for _ in 1 2 3 4 5; do
      local t0 t1; t0=$(date +%s%N)
      # shellcheck disable=SC2086
      target/release/tauro-cli $cmd >/dev/null
      t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))
    done | median | awk -v c="${cmd/$dir/<project>}" '{printf "tauro-cli %s: median %.1f ms\n", c, $1/1000}'
  done
  rm -rf "$dir"
}

bench_overhead() {
  local nodes="${OVERHEAD_NODES:-200}" reps="${OVERHEAD_RUNS:-5}"
  echo "== per-node overhead on Sail: $nodes trivial nodes (chain and wide), --max-workers 1, $reps runs each"
  scripts/setup.sh >/dev/null
  cargo build -q --release -p tauro-cli
  export SAIL_PORT="${SAIL_PORT:-50051}"
  local started=0
  if ! scripts/sail-local.sh status >/dev/null 2>&1; then
    scripts/sail-local.sh start; started=1
  fi
  trap '[[ $started == 1 ]] && scripts/sail-local.sh stop' RETURN
  local dir; dir=$(mktemp -d)
  # OVERHEAD_LINEAGE=off: no lineage, so no RPC of an attempt overlaps another.
  python3 scripts/bench/overhead.py gen "$dir/project" "$nodes" "${OVERHEAD_LINEAGE:-on}"
  run() {
    OVERHEAD_OUT="$dir/out" target/release/tauro-cli --output json exec --project "$dir/project" \
      --pipeline "$1" --full --max-workers 1 --engine sail --remote "sc://127.0.0.1:$SAIL_PORT"
  }
  run chain >/dev/null; run wide >/dev/null   # first writes, warm caches
  timed() {   # the report, and the whole process's wall time next to it (<report>.wall)
    local t0 t1; t0=$(date +%s%N)
    run "$1" > "$2.json"
    t1=$(date +%s%N); echo "$(( (t1 - t0) / 1000 ))e-6" > "$2.wall"
  }
  for i in $(seq "$reps"); do
    timed chain "$dir/chain_$i"
    timed wide "$dir/wide_$i"
  done
  python3 scripts/bench/overhead.py report "$dir"/chain_*.json "$dir"/wide_*.json
  rm -rf "$dir"
}

case "$what" in
  scheduler) bench_scheduler ;;
  plan) bench_plan ;;
  validate) bench_validate ;;
  etl) bench_etl ;;
  store) bench_store ;;
  pyspark) bench_pyspark ;;
  scale) bench_scale ;;
  overhead) bench_overhead ;;
  all) bench_scheduler; bench_plan; bench_validate; bench_etl; bench_store; bench_overhead; bench_pyspark; bench_scale ;;
  *) echo "usage: $0 [scheduler|plan|validate|etl|store|pyspark|scale|overhead|all]" >&2; exit 2 ;;
esac
