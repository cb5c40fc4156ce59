#!/usr/bin/env bash
# Health check of the Spark Connect server in this container.
#
# It makes one real gRPC call over HTTP/2 (cleartext, no upgrade) to the Connect port: the
# standard method grpc.health.v1.Health/Check with an empty request. Spark Connect does not
# implement that service and answers with grpc-status 12 (UNIMPLEMENTED); any `grpc-status`
# in the answer proves that the gRPC server is up and handling calls. It does not run a Spark
# job and does not check the connectors. Exit 0: healthy.
set -euo pipefail

port="${SPARK_CONNECT_PORT:-15002}"

# The request body is one gRPC message frame: a zero compression flag and a zero length.
# Headers (and trailers) are kept whole before grep reads them, so an early exit of grep can
# never break curl's output mid-way.
headers=$(printf '\0\0\0\0\0' |
  curl --silent --max-time 4 --http2-prior-knowledge --request POST \
    --header 'content-type: application/grpc' --header 'te: trailers' \
    --data-binary @- --dump-header - --output /dev/null \
    "http://127.0.0.1:${port}/grpc.health.v1.Health/Check") || exit 1
grep -qi '^grpc-status:' <<<"$headers"
