"""Prometheus metrics of the event backbone (module-level, exported by the app's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_DEPTH = Gauge("tansiq_outbox_depth", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_UNSENT_AGE = Gauge(
    "tansiq_outbox_oldest_unsent_age_seconds",
    "Age of the oldest outbox row not yet published",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "tansiq_outbox_published_total", "Events the relay published and saw acked", ["service"]
)
OUTBOX_PUBLISH_ERRORS = Counter(
    "tansiq_outbox_publish_errors_total", "Failed publish attempts of the relay", ["service"]
)
OUTBOX_PRUNED = Counter("tansiq_outbox_pruned_total", "Sent outbox rows deleted", ["service"])
RELAY_ACTIVE = Gauge(
    "tansiq_relay_active", "1 while this process holds the service's relay lock", ["service"]
)

CONSUMER_APPLIED = Counter(
    "tansiq_consumer_events_applied_total",
    "Events a consumer applied",
    ["service", "consumer", "topic"],
)
CONSUMER_DUPLICATES = Counter(
    "tansiq_consumer_duplicates_total",
    "Redelivered events a consumer skipped (already processed)",
    ["service", "consumer", "topic"],
)
CONSUMER_RETRIES = Counter(
    "tansiq_consumer_retries_total", "Handler attempts that failed", ["service", "consumer"]
)
CONSUMER_DLQ = Counter(
    "tansiq_consumer_dlq_total",
    "Messages sent to the dead-letter topic",
    ["service", "consumer", "topic", "reason"],
)
CONSUMER_LAG = Gauge(
    "tansiq_consumer_lag",
    "Messages behind the partition's high watermark",
    ["service", "consumer", "topic", "partition"],
)
