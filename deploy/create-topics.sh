#!/bin/sh
# One-shot topic creation of docker-compose.yml (service kafka-init, run in the
# apache/kafka image once the broker is healthy). Idempotent: existing topics
# are left as they are, so `docker compose up` after `down` (volumes kept)
# succeeds too. Settings from the environment:
#   BOOTSTRAP          broker address (kafka:9092)
#   EVENTS_TOPIC       events, keyed by request_id (ranker.events)
#   EVENTS_PARTITIONS  partitions of the events topic (6)
#   DEAD_TOPIC         dead letters of rejected events (ranker.dead)
#   MODEL_TOPIC        the leader's model updates, read by followers (ranker.model):
#                      1 partition, compacted (row/dense/commit keys keep the
#                      latest full state)
#   RETENTION_BYTES    per-partition size cap of the events and dead topics (268435456)
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
"$kafka_topics" --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic "${MODEL_TOPIC:-ranker.model}" --partitions 1 --replication-factor 1 \
  --config cleanup.policy=compact --config min.compaction.lag.ms=60000
"$kafka_topics" --bootstrap-server "$bootstrap" --describe \
  --topic "${EVENTS_TOPIC:-ranker.events}"
