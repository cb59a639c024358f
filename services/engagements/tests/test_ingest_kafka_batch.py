"""The Kafka door a fetched batch at a time: the runner hands the batch's messages to the ingest
consumer at once (one transaction); bad items are refused to the DLQ with the reason and the rest
applied; each change carries its message as its request; a replay changes nothing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from tansiq_common.db import Database
from tansiq_common.events.consumer import ConsumerRunner, ConsumerSettings
from tansiq_common.testing.kafka import FetchedRecord, read_topic
from tansiq_engagements.engagements.ingest import INGEST_EVENT_TYPE, ingest_consumer
from tansiq_engagements.lookups import replica_lookups

from .conftest import ingest_item

TOPIC = "engagements.ingest.v1"
CALENDAR = "/tansiq/integration/calendar"


def records(topic: str, *messages: tuple[Any, str]) -> list[FetchedRecord]:
    """(item, ce_source) each, at consecutive offsets of partition 0."""
    out = []
    for offset, (item, source) in enumerate(messages):
        headers = {
            "ce_specversion": "1.0",
            "ce_id": str(uuid.uuid4()),
            "ce_source": source,
            "ce_type": INGEST_EVENT_TYPE,
            "ce_time": datetime.now(UTC).isoformat(),
            "content-type": "application/json",
            "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        }
        out.append(
            FetchedRecord(
                topic, 0, offset, 0, f"{item.get('source')}:{item.get('external_id')}".encode(),
                json.dumps(item).encode(), [(k, v.encode()) for k, v in headers.items()],
            )
        )  # fmt: skip
    return out


@pytest.fixture
async def runner(client, engagements_settings, kafka_bootstrap, topic_prefix, kafka_topics):
    """The service's ingest consumer, as its runner builds it (`client` empties the database)."""
    db = Database(engagements_settings.database_url, pool_size=2, max_overflow=0)
    runner = ConsumerRunner(
        spec=ingest_consumer(replica_lookups()),
        service="engagements",
        sessionmaker=db.sessionmaker,
        bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        settings=ConsumerSettings(max_attempts=1, initial_backoff_s=0.01),
    )
    yield runner
    await runner._close_dlq()
    await db.dispose()


async def test_a_batch_applies_its_good_items_and_dead_letters_the_bad_with_the_reason(
    runner, sql, kafka_bootstrap, topic_prefix
):
    topic = topic_prefix + TOPIC
    batch = records(
        topic,
        (ingest_item("batch-1"), CALENDAR),
        (ingest_item("batch-2", end="2025-03-09T09:00:00+03:00"), CALENDAR),
        (ingest_item("batch-1", outcome="Second thoughts"), CALENDAR),
        (ingest_item("batch-3", source="travel"), CALENDAR),
        (ingest_item("batch-4"), "/tansiq/registry"),
    )
    created, ends_early, updated, other_system, forged = batch
    await runner.process_batch(batch)

    rows = await sql.fetch("SELECT external_id, version, outcome FROM engagements")
    assert [tuple(r) for r in rows] == [("batch-1", 2, "Second thoughts")]
    engagement_id = await sql.fetchval("SELECT id::text FROM engagements")
    remembered = await sql.fetch(
        "SELECT event_id, external_id, engagement_id::text, outcome FROM ingested_messages "
        "ORDER BY received_at"
    )
    assert [tuple(r) for r in remembered] == [
        (created.id, "batch-1", engagement_id, "created"),
        (updated.id, "batch-1", engagement_id, "updated"),
    ]
    # One transaction for the batch: every row it wrote has the same xmin.
    xmins = await sql.fetchval(
        "SELECT count(DISTINCT x) FROM (SELECT xmin::text AS x FROM ingested_messages UNION "
        "SELECT xmin::text FROM engagements UNION SELECT xmin::text FROM outbox UNION "
        "SELECT xmin::text FROM audit_log UNION SELECT xmin::text FROM processed_events) AS t"
    )
    assert xmins == 1
    processed = await sql.fetch('SELECT event_id FROM processed_events ORDER BY "offset"')
    assert [r["event_id"] for r in processed] == [created.id, updated.id]

    # Each change carries the message that caused it: events and audit entries.
    events = await sql.fetch(
        "SELECT type, headers, payload FROM outbox WHERE aggregateid = $1 ORDER BY seq",
        engagement_id,
    )
    headers = [json.loads(e["headers"]) for e in events]
    assert [e["type"] for e in events] == [
        "tansiq.engagements.engagement.created.v1",
        "tansiq.engagements.engagement.updated.v1",
    ]
    assert headers == [
        {"request_id": created.id, "traceparent": dict(created.headers)["traceparent"].decode()},
        {"request_id": updated.id, "traceparent": dict(updated.headers)["traceparent"].decode()},
    ]
    assert [json.loads(e["payload"])["version"] for e in events] == [1, 2]
    audits = await sql.fetch("SELECT actor_sub, action, request_id FROM audit_log ORDER BY id")
    assert [tuple(a) for a in audits] == [
        ("consumer:ingest", "engagement.created", created.id),
        ("consumer:ingest", "engagement.updated", updated.id),
    ]

    dead = await read_topic(
        kafka_bootstrap,
        [topic + ".dlq"],
        until=lambda rs: (
            {ends_early.id, other_system.id, forged.id}
            <= {dict(r.headers)["ce_id"].decode() for r in rs}
        ),
    )
    reasons = {
        dict(r.headers)["ce_id"].decode(): (
            dict(r.headers)["dlq_reason"].decode(), dict(r.headers)["dlq_error"].decode()
        )
        for r in dead
        if dict(r.headers)["ce_id"].decode() in {ends_early.id, other_system.id, forged.id}
    }  # fmt: skip
    assert reasons == {
        ends_early.id: ("invalid", ENDS_EARLY),
        other_system.id: (
            "invalid",
            "item rejected: source 'travel' is not the sending system 'calendar'",
        ),
        forged.id: (
            "wrong-source",
            f"ce_source '/tansiq/registry' is not the producer of {TOPIC} ('/tansiq/integration/')",
        ),
    }


ENDS_EARLY = "item rejected: end: end is before start. (invalid-dates)"


async def test_a_batch_delivered_again_or_replayed_changes_nothing(runner, sql):
    topic = runner.topics[0]
    batch = records(
        topic,
        (ingest_item("again-1"), CALENDAR),
        (ingest_item("again-2"), CALENDAR),
        (ingest_item("again-1", outcome="Revised"), CALENDAR),
    )
    await runner.process_batch(batch)
    state = "SELECT external_id, version, outcome, updated_at FROM engagements ORDER BY 1"
    before = [tuple(r) for r in await sql.fetch(state)]
    counts = "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM audit_log)"
    written = tuple(await sql.fetchrow(counts))
    assert written == (3, 3)
    # Redelivered (the offsets were not committed): the processed events turn it into a no-op.
    await runner.process_batch(batch)
    # Replayed (`tansiq replay ingest` forgets the processed events): the messages applied are
    # remembered in ingested_messages.
    await sql.execute("DELETE FROM processed_events")
    await runner.process_batch(batch)
    assert [tuple(r) for r in await sql.fetch(state)] == before
    assert tuple(await sql.fetchrow(counts)) == written
    assert await sql.fetchval("SELECT count(*) FROM ingested_messages") == 3
