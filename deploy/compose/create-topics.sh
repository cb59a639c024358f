#!/bin/sh
# Creates the domain topics and their dead-letter twins (the broker auto-creates nothing).
# Domain topics keep every event for replay; dead letters keep 30 days. Idempotent.
# Partitions and retention as in tansiq_common.events.topics.
set -eu
bootstrap="${KAFKA_BOOTSTRAP:-kafka:29092}"
for topic in registry.organization.v1 agreements.agreement.v1 engagements.engagement.v1 \
             engagements.ingest.v1; do
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "${TOPIC_PREFIX:-}$topic" --partitions 3 --replication-factor 1 \
    --config retention.ms=-1
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "${TOPIC_PREFIX:-}$topic.dlq" --partitions 1 --replication-factor 1 \
    --config retention.ms=2592000000
done
