#!/usr/bin/env bash
# Runs the daily_etl example end to end: installs what is missing, builds tauro-cli, and runs the
# pipeline for the first week of January 2025. tauro-cli starts a local Spark Connect server for
# the run and stops it afterwards (spark.remote: local).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build -q -p tauro-cli
exec target/debug/tauro-cli exec --project examples/daily_etl --pipeline daily_etl \
  --start "${1:-2025-01-01}" --end "${2:-2025-01-07}"
