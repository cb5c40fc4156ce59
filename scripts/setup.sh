#!/usr/bin/env bash
# Installs what building tauro and running Spark locally need. Idempotent; when everything is
# present it only checks (well under a second).
#
#   - protoc (the Spark Connect client compiles its protos): apt-get install protobuf-compiler
#   - a cached virtualenv with pyspark (its wheel bundles Spark and the Spark Connect server):
#     ${TAURO_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/spark-venv}
#   - Java 17 (or newer) on PATH, which Spark runs on
#   - a cached virtualenv with pysail (Sail, the second engine; TAURO_SETUP_SAIL=0 skips it):
#     ${TAURO_SAIL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/sail-venv}
#
# tauro finds this virtualenv by itself (spark.remote: local); scripts/spark-connect-local.sh
# uses it too.
set -euo pipefail

PYSPARK_VERSION="${TAURO_PYSPARK_VERSION:-4.3.0}"
VENV="${TAURO_SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/spark-venv}"
PYSAIL_VERSION="${TAURO_PYSAIL_VERSION:-0.7.2}"
SAIL_VENV="${TAURO_SAIL_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tauro/sail-venv}"

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    die "need root to run: $*"
  fi
}

# 1. protoc
if ! command -v protoc >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "protoc is missing; install the protobuf compiler (package protobuf-compiler)"
  say "installing protoc (protobuf-compiler)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
fi

# 2. the pyspark virtualenv
have_pyspark() {
  compgen -G "$VENV/lib/python3*/site-packages/pyspark-${PYSPARK_VERSION}.dist-info" >/dev/null &&
    compgen -G "$VENV/lib/python3*/site-packages/pyspark/jars/spark-connect_*.jar" >/dev/null
}
if ! have_pyspark; then
  command -v python3 >/dev/null 2>&1 || die "python3 is missing (needed once, to create $VENV)"
  if [[ ! -x $VENV/bin/python ]]; then
    say "creating virtualenv $VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" ||
      die "python3 -m venv failed; on Debian/Ubuntu install python3-venv"
  fi
  say "installing pyspark==$PYSPARK_VERSION into $VENV (about 500 MB, once)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
  have_pyspark || die "pyspark $PYSPARK_VERSION did not install into $VENV"
fi
spark_home=$(compgen -G "$VENV/lib/python3*/site-packages/pyspark" | tail -n 1)

# 2b. Sail (engine: sail; the Delta tests run on it): a small venv of its own, since pysail
# has no Python dependencies. TAURO_SETUP_SAIL=0 skips it.
if [[ ${TAURO_SETUP_SAIL:-1} != 0 ]] &&
  ! compgen -G "$SAIL_VENV/lib/python3*/site-packages/pysail-${PYSAIL_VERSION}.dist-info" >/dev/null; then
  if [[ ! -x $SAIL_VENV/bin/python ]]; then
    say "creating virtualenv $SAIL_VENV"
    mkdir -p "$(dirname "$SAIL_VENV")"
    python3 -m venv "$SAIL_VENV" || die "python3 -m venv failed; on Debian/Ubuntu install python3-venv"
  fi
  say "installing pysail==$PYSAIL_VERSION into $SAIL_VENV (about 200 MB, once)"
  "$SAIL_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pysail==$PYSAIL_VERSION"
  [[ -x $SAIL_VENV/bin/sail ]] || die "pysail $PYSAIL_VERSION did not install into $SAIL_VENV"
fi

# 3. Java 17+
java_bin=java
[[ -n ${JAVA_HOME:-} ]] && java_bin="$JAVA_HOME/bin/java"
if ! command -v "$java_bin" >/dev/null 2>&1; then
  die "Java 17 is missing; install it (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
fi
java_version=$("$java_bin" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
if [[ -z $java_version || $java_version -lt 17 ]]; then
  die "Java ${java_version:-?} found, Spark 4 needs Java 17 or newer"
fi

say "ok: protoc $(protoc --version | cut -d' ' -f2), Java $java_version, SPARK_HOME=$spark_home"
