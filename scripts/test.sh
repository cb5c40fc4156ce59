#!/usr/bin/env bash
# Runs the whole test suite against a real Spark Connect server.
#
#   scripts/test.sh [extra cargo test args]
#
# Installs what is missing (protoc, the cached pyspark virtualenv), starts a local Spark Connect
# server unless TAURO_SPARK_REMOTE points at one, runs `cargo test --workspace` with
# TAURO_REQUIRE_SPARK=1 (Spark-backed tests fail instead of skipping), and stops the server.
# It also starts a Sail server (scripts/sail-local.sh, port SAIL_PORT, default 50051) unless
# TAURO_SAIL_REMOTE points at one: the Delta and engine tests run on it (TAURO_REQUIRE_SAIL=1).
# The server it starts serves its Spark UI on SC_UI_PORT (default SC_PORT + 2040), exported as
# TAURO_SPARK_UI; with a server of your own, set TAURO_SPARK_UI to its UI (or that test fails).
# Run-store tests also run on PostgreSQL when one answers at TAURO_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/test); in CI (CI=true) it must answer
# (TAURO_REQUIRE_POSTGRES=1), elsewhere they skip PostgreSQL with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

export SC_PORT="${SC_PORT:-15002}"
started=0
if [[ -z "${TAURO_SPARK_REMOTE:-}" ]]; then
  if ! scripts/spark-connect-local.sh status >/dev/null 2>&1; then
    # With its UI on: a test counts the Spark jobs of expectation checks from the UI's REST API.
    export SC_UI_PORT="${SC_UI_PORT:-$((SC_PORT + 2040))}"
    scripts/spark-connect-local.sh start
    started=1
    export TAURO_SPARK_UI="${TAURO_SPARK_UI:-http://127.0.0.1:${SC_UI_PORT}}"
  fi
  export TAURO_SPARK_REMOTE="sc://127.0.0.1:${SC_PORT}"
fi
# Sail (the Delta tests' engine), likewise, unless TAURO_SAIL_REMOTE points at one.
export SAIL_PORT="${SAIL_PORT:-50051}"
sail_started=0
if [[ -z "${TAURO_SAIL_REMOTE:-}" ]]; then
  if ! scripts/sail-local.sh status >/dev/null 2>&1; then
    scripts/sail-local.sh start
    sail_started=1
  fi
  export TAURO_SAIL_REMOTE="sc://127.0.0.1:${SAIL_PORT}"
fi
cleanup() {
  if [[ $started == 1 ]]; then scripts/spark-connect-local.sh stop || true; fi
  if [[ $sail_started == 1 ]]; then scripts/sail-local.sh stop || true; fi
}
trap cleanup EXIT

export TAURO_REQUIRE_SPARK="${TAURO_REQUIRE_SPARK:-1}"
export TAURO_REQUIRE_SAIL="${TAURO_REQUIRE_SAIL:-1}"
if [[ "${CI:-}" == "true" ]]; then
  export TAURO_REQUIRE_POSTGRES="${TAURO_REQUIRE_POSTGRES:-1}"
fi
echo "Running tests against ${TAURO_SPARK_REMOTE} and Sail at ${TAURO_SAIL_REMOTE} (TAURO_REQUIRE_SPARK=${TAURO_REQUIRE_SPARK}, TAURO_REQUIRE_POSTGRES=${TAURO_REQUIRE_POSTGRES:-0})"
cargo test --workspace "$@"
