#!/usr/bin/env bash
# Fuzzes the configuration loader (fuzz/fuzz_targets/config_loader.rs) for a fixed budget.
#
#   scripts/fuzz.sh [seconds]        # default 300
#
# Installs cargo-fuzz when missing. cargo-fuzz passes nightly-only flags (coverage
# instrumentation, sanitizers) to rustc; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# The property is "no panic, no hang" in safe Rust (`unsafe_code = "forbid"`), so the default
# is no sanitizer: about 8x the executions of AddressSanitizer. FUZZ_SANITIZER=address (or any
# `cargo fuzz --sanitizer` value) turns one on.
# Seeds: every file of tauro-config/tests/hostile/ in each of the five documents, and the
# examples' configurations. The corpus libFuzzer grows is kept in fuzz/corpus/config_loader
# (not committed); a crash leaves its input in fuzz/artifacts/config_loader/ and fails the
# script: reproduce with `cargo fuzz run config_loader <file>`, minimise with `cargo fuzz tmin`,
# then add it to the hostile tests.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_BUDGET="${1:-300}"
TARGET=config_loader
if ! [[ $SECONDS_BUDGET =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [seconds]" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1

# Scratch space for the target's `.json` mode and the seeds; removed on exit.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export TAURO_FUZZ_DIR="$work/files"
mkdir -p "$TAURO_FUZZ_DIR" "$work/seeds"

# Input layout (see the target): a mode byte (0 YAML in memory, 1 JSON files), then the
# documents separated by 0xFF.
sep() { printf '\377'; }
defaults=(
  'input_path: /data\n'
  'p:\n  nodes: [n]\n'
  'n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n'
  'raw:\n  format: csv\n  filepath: raw.csv\n'
  'clean:\n  format: parquet\n  filepath: clean\n'
)
json_defaults=(
  '{"input_path": "/data"}'
  '{"p": {"nodes": ["n"]}}'
  '{"n": {"input": ["raw"], "output": ["clean"], "sql": "SELECT * FROM raw"}}'
  '{"raw": {"format": "csv", "filepath": "raw.csv"}}'
  '{"clean": {"format": "parquet", "filepath": "clean"}}'
)
for file in tauro-config/tests/hostile/*; do
  name="$(basename "$file")"
  mode='\000'
  docs=("${defaults[@]}")
  if [[ $name == *.json ]]; then
    mode='\001'
    docs=("${json_defaults[@]}")
  fi
  for slot in 0 1 2 3 4; do
    {
      printf '%b' "$mode"
      for i in 0 1 2 3 4; do
        ((i > 0)) && sep
        if ((i == slot)); then cat "$file"; else printf '%b' "${docs[$i]}"; fi
      done
    } >"$work/seeds/$name.$slot"
  done
done
for config in examples/*/config; do
  name="$(basename "$(dirname "$config")")"
  {
    printf '\000'
    first=1
    for doc in global_settings pipelines nodes input output; do
      ((first)) || sep
      first=0
      cat "$config/$doc.yaml"
    done
  } >"$work/seeds/example-$name"
done
echo "fuzz: $(find "$work/seeds" -type f | wc -l) seeds, ${SECONDS_BUDGET}s"

mkdir -p "fuzz/corpus/$TARGET"
cd fuzz
# stdin from /dev/null: a fuzzed `sql_file: /dev/stdin` must not wait for a terminal.
# An input slower than 30 s counts as a failure (a hang), like a panic.
cargo fuzz run --sanitizer "${FUZZ_SANITIZER:-none}" "$TARGET" "corpus/$TARGET" "$work/seeds" -- \
  -max_total_time="$SECONDS_BUDGET" -timeout=30 -rss_limit_mb=4096 -max_len=16384 \
  -print_final_stats=1 </dev/null
