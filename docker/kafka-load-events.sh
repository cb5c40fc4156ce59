#!/bin/sh
# Creates the Kafka topic of the hybrid example and loads its sales events into it, one JSON
# line per record. Runs in the Kafka image (the `kafka-init` service of compose.yaml).
# Loading happens only while the topic is empty, so running this again adds nothing twice.
set -eu

bin=/opt/kafka/bin
bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
topic="${KAFKA_TOPIC:-sales_events}"
events="${EVENTS_DIR:-/events}"

"$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic "$topic" --partitions 1 --replication-factor 1

# Lines of `topic:partition:latest offset`; their sum is the number of records so far.
records=$("$bin/kafka-get-offsets.sh" --bootstrap-server "$bootstrap" --topic "$topic" --time -1 |
  awk -F: '{ n += $NF } END { print n + 0 }')
if [ "$records" -gt 0 ]; then
  echo "topic $topic already holds $records records; nothing loaded"
  exit 0
fi

# awk prints each non-empty line with its newline, also the last line of a file without one.
awk 'NF' "$events"/*.json |
  "$bin/kafka-console-producer.sh" --bootstrap-server "$bootstrap" --topic "$topic"
echo "loaded $(awk 'NF' "$events"/*.json | wc -l) events from $events into topic $topic"
