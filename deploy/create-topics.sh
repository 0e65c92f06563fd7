#!/bin/sh
# One-shot topic creation of docker-compose.yml (service kafka-init, run in the
# apache/kafka image once the broker is healthy). Idempotent: existing topics
# are left as they are, so `docker compose up` after `down` (volumes kept)
# succeeds too. Settings from the environment:
#   BOOTSTRAP          broker address (kafka:9092)
#   EVENTS_TOPIC       events, keyed by request_id (ranker.events)
#   EVENTS_PARTITIONS  partitions of the events topic (6)
#   DEAD_TOPIC         dead letters of rejected events (ranker.dead)
#   RETENTION_BYTES    per-partition size cap of both topics (268435456)
set -eu
kafka_topics=/opt/kafka/bin/kafka-topics.sh
bootstrap=${BOOTSTRAP:-kafka:9092}
retention=${RETENTION_BYTES:-268435456}

create() {  # topic partitions
  "$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$1" --partitions "$2" --replication-factor 1 \
    --config retention.bytes="$retention"
}

create "${EVENTS_TOPIC:-ranker.events}" "${EVENTS_PARTITIONS:-6}"
create "${DEAD_TOPIC:-ranker.dead}" 1
"$kafka_topics" --bootstrap-server "$bootstrap" --describe \
  --topic "${EVENTS_TOPIC:-ranker.events}"
