"""The Kafka door of ingestion: engagements.ingest.v1 on the real broker, consumed by the
service's own runner; invalid messages dead-lettered with the reason; replays change nothing;
the same item through both doors at once leaves one engagement."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from tansiq_common.db import Database
from tansiq_common.events.consumer import ConsumerSettings
from tansiq_common.events.replay import replay
from tansiq_common.testing.kafka import read_topic
from tansiq_common.testing.plugin import running_app
from tansiq_engagements.app import create_app
from tansiq_engagements.engagements.ingest import INGEST_EVENT_TYPE, ingest_consumer
from tansiq_engagements.lookups import replica_lookups

from .conftest import QFSW, _id, engagement_body, ingest_item, outbox

TOPIC = "engagements.ingest.v1"
CALENDAR = "/tansiq/integration/calendar"


@pytest.fixture(scope="module")
async def kafka_client(
    engagements_settings, owners, kafka_topics
) -> AsyncIterator[httpx.AsyncClient]:
    """The service with its consumers running (its own app on the same test database)."""
    settings = engagements_settings.model_copy(update={"run_consumers": True})
    app = create_app(settings)
    app.state.reference_transport = httpx.ASGITransport(app=owners.app())
    async with running_app(app) as client:
        yield client


@pytest.fixture
async def door(kafka_client, client) -> httpx.AsyncClient:
    """`client` empties the database and loads the world; the consumer keeps running."""
    return kafka_client


def message(
    item: Any, *, source: str = CALENDAR, event_id: str | None = None, raw: bytes | None = None
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    key = f"{item.get('source')}:{item.get('external_id')}" if isinstance(item, dict) else "x"
    headers = {
        "ce_specversion": "1.0",
        "ce_id": event_id or str(uuid.uuid4()),
        "ce_source": source,
        "ce_type": INGEST_EVENT_TYPE,
        "ce_time": datetime.now(UTC).isoformat(),
        "content-type": "application/json",
    }
    value = raw if raw is not None else json.dumps(item).encode()
    return key.encode(), value, [(k, v.encode()) for k, v in headers.items()]


async def publish(bootstrap: str, topic: str, messages) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(sql, query: str, expected: Any, *args: Any, timeout_s: float = 40) -> None:
    value = None
    for _ in range(int(timeout_s / 0.1)):
        value = await sql.fetchval(query, *args)
        if value == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{query} gave {value!r}, expected {expected!r}")


async def test_a_message_upserts_and_a_redelivery_or_repeat_changes_nothing(
    door, sql, kafka_bootstrap, topic_prefix
):
    item = ingest_item("kafka-1")
    first = message(item)
    await publish(kafka_bootstrap, topic_prefix + TOPIC, [first])
    await eventually(sql, "SELECT count(*) FROM ingested_messages", 1)
    row = await sql.fetchrow("SELECT id::text, version, source, external_id FROM engagements")
    assert tuple(row) == (row["id"], 1, "calendar", "kafka-1")
    audit = await sql.fetch("SELECT action, actor_sub FROM audit_log")
    assert [tuple(r) for r in audit] == [("engagement.created", "consumer:ingest")]

    # The same message again (a producer's retry), and the same item in a new message.
    again = message(item, event_id=first[2][1][1].decode())
    repeat = message(item)
    changed = message({**item, "outcome": "Follow-up agreed"})
    await publish(kafka_bootstrap, topic_prefix + TOPIC, [again, repeat, changed])
    await eventually(sql, "SELECT count(*) FROM ingested_messages", 3)
    outcomes = await sql.fetch("SELECT outcome FROM ingested_messages ORDER BY received_at")
    assert [r["outcome"] for r in outcomes] == ["created", "unchanged", "updated"]
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1
    events = await outbox(sql)
    assert [(e["type"].split(".")[-2], e["payload"]["version"]) for e in events] == [
        ("created", 1),
        ("updated", 2),
    ]
    assert events[-1]["payload"]["outcome"] == "Follow-up agreed"


@pytest.mark.parametrize(
    ("build", "reason", "says"),
    [
        pytest.param(
            lambda: message(None, raw=b'{"kind": "meeting",'), "invalid", "not JSON", id="invalid-json"
        ),
        pytest.param(
            lambda: message(ingest_item("k"), source="/tansiq/registry"),
            "wrong-source", "is not the producer", id="foreign-ce-source",
        ),
        pytest.param(
            lambda: message(ingest_item("k", source="travel")),
            "invalid", "is not the sending system 'calendar'", id="source-of-another-system",
        ),
        pytest.param(
            lambda: message(ingest_item("k", end="2025-03-10T08:00:00+03:00")),
            "invalid", "end is before start. (invalid-dates)", id="end-before-start",
        ),
        pytest.param(
            lambda: message(ingest_item("k", lead_org_id=_id("nobody"))),
            "invalid", "(unknown-organization)", id="unknown-organization",
        ),
        pytest.param(
            lambda: message(ingest_item("k", attendees={"total": 1, "nationals": 2})),
            "invalid", "(invalid-attendees)", id="impossible-counts",
        ),
        pytest.param(
            lambda: message({"kind": "meeting", "source": "calendar", "external_id": "k"}),
            "invalid", "title: Field required", id="not-an-item",
        ),
    ],
)  # fmt: skip
async def test_an_invalid_message_goes_to_the_dead_letter_topic_with_the_reason(
    door, sql, kafka_bootstrap, topic_prefix, build, reason, says
):
    bad = build()
    bad_id = dict(bad[2])["ce_id"].decode()
    good = message(ingest_item("after-the-bad-one"))
    await publish(kafka_bootstrap, topic_prefix + TOPIC, [bad, good])
    # The consumer moves on: the good message behind the bad one is applied.
    await eventually(
        sql, "SELECT count(*) FROM engagements WHERE external_id = 'after-the-bad-one'", 1
    )
    dlq = topic_prefix + TOPIC + ".dlq"
    records = await read_topic(
        kafka_bootstrap,
        [dlq],
        until=lambda rs: any(dict(r.headers)["ce_id"].decode() == bad_id for r in rs),
    )
    [record] = [r for r in records if dict(r.headers)["ce_id"].decode() == bad_id]
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["dlq_reason"] == reason
    assert says in headers["dlq_error"]
    assert headers["dlq_consumer"] == "ingest"
    assert record.value == bad[1]
    # Nothing of the bad message was written.
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1
    assert await sql.fetchval("SELECT count(*) FROM ingested_messages") == 1


async def test_a_replay_of_the_topic_changes_nothing(
    door, sql, kafka_bootstrap, topic_prefix, engagements_settings
):
    item = ingest_item("replayed")
    await publish(
        kafka_bootstrap,
        topic_prefix + TOPIC,
        [message(item), message({**item, "outcome": "second"})],
    )
    await eventually(sql, "SELECT version FROM engagements WHERE external_id = 'replayed'", 2)
    engagement_id = await sql.fetchval(
        "SELECT id::text FROM engagements WHERE external_id = 'replayed'"
    )
    before = [e for e in await outbox(sql) if e["id"] == engagement_id]
    db = Database(engagements_settings.database_url, pool_size=2, max_overflow=0)
    try:
        result = await replay(
            ingest_consumer(replica_lookups()),
            service="engagements",
            sessionmaker=db.sessionmaker,
            bootstrap=kafka_bootstrap,
            topic_prefix=topic_prefix,
            settings=ConsumerSettings(max_attempts=1, initial_backoff_s=0.01),
        )
    finally:
        await db.dispose()
    assert result.messages >= 2
    after = [e for e in await outbox(sql) if e["id"] == engagement_id]
    assert after == before
    state = await sql.fetchrow(
        "SELECT version, outcome FROM engagements WHERE id = $1::uuid", engagement_id
    )
    assert tuple(state) == (2, "second")


async def test_the_same_item_through_both_doors_at_once_leaves_one_engagement(
    door, sql, kafka_bootstrap, topic_prefix, auth_headers
):
    item = ingest_item("both-doors")
    job = auth_headers(QFSW.id, ["integration"], sub="calendar-job")
    rounds = 5
    kafka = publish(kafka_bootstrap, topic_prefix + TOPIC, [message(item) for _ in range(rounds)])
    rest = [
        door.post("/v1/ingest/engagements", json={"items": [item]}, headers=job)
        for _ in range(rounds)
    ]
    _, *responses = await asyncio.gather(kafka, *rest)
    await eventually(sql, "SELECT count(*) FROM ingested_messages", rounds)
    results = [r.json()["results"][0]["result"] for r in responses]
    kafka_outcomes = [
        r["outcome"] for r in await sql.fetch("SELECT outcome FROM ingested_messages")
    ]
    assert sorted(results + kafka_outcomes) == ["created"] + ["unchanged"] * (2 * rounds - 1)
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1
    assert [e["type"].split(".")[-2] for e in await outbox(sql)] == ["created"]


# -- the agreements replica, fed by agreements.agreement.v1 ------------------------------------


def agreement_message(agreement_id: str, version: int, *, status: str, source="/tansiq/agreements"):
    state = {
        "id": agreement_id,
        "version": version,
        "kind": "mou",
        "status": status,
        "owner_org_id": QFSW.id,
        "parties": [
            {"org_id": QFSW.id, "role": "signatory"},
            {"org_id": _id("un"), "role": "signatory"},
        ],
        "visibility": "interagency",
    }
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_source": source,
        "ce_type": f"tansiq.agreements.agreement.{status}.v1",
        "ce_time": datetime.now(UTC).isoformat(),
        "ce_subject": agreement_id,
        "content-type": "application/json",
    }
    return (
        agreement_id.encode(),
        json.dumps(state).encode(),
        [(k, v.encode()) for k, v in headers.items()],
    )


async def test_agreement_events_keep_the_replica_that_links_are_checked_against(
    door, sql, kafka_bootstrap, topic_prefix, as_editor, owners
):
    agreement = _id("agreement-from-kafka")
    topic = topic_prefix + "agreements.agreement.v1"
    forged = agreement_message(agreement, 9, status="expired", source="/tansiq/registry")
    await publish(
        kafka_bootstrap,
        topic,
        [
            agreement_message(agreement, 1, status="created"),
            agreement_message(agreement, 3, status="signed"),
            agreement_message(agreement, 2, status="submitted"),  # late: older than what is there
            forged,
        ],
    )
    forged_id = dict(forged[2])["ce_id"]
    # The forged one comes last on the partition: once it is dead-lettered, all went by.
    dead = await read_topic(
        kafka_bootstrap,
        [topic + ".dlq"],
        until=lambda rs: any(dict(r.headers)["ce_id"] == forged_id for r in rs),
    )
    [record] = [r for r in dead if dict(r.headers)["ce_id"] == forged_id]
    assert dict(record.headers)["dlq_reason"] == b"wrong-source"
    row = await sql.fetchrow(
        "SELECT status, owner_org_id, party_org_ids, version FROM agreement_directory WHERE id = $1",
        agreement,
    )
    assert tuple(row) == ("signed", QFSW.id, sorted([QFSW.id, _id("un")]), 3)
    linked = await door.post(
        "/v1/engagements",
        json=engagement_body(agreement_ids=[agreement]),
        headers=as_editor(QFSW),
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["agreement_ids"] == [agreement]
    assert owners.calls == []  # found in the replica: the agreements service was not asked
