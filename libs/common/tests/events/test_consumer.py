"""The consumer runner against the real PostgreSQL and Kafka: exactly-once effects, DLQ, replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from tansiq_common.events import metrics
from tansiq_common.events.consumer import (
    ConsumerRunner,
    ConsumerSettings,
    ConsumerSpec,
    apply_if_newer,
    running_consumer,
)
from tansiq_common.events.envelope import cloudevent_headers
from tansiq_common.events.replay import replay
from tansiq_common.events.topics import dlq_name
from tansiq_common.testing.kafka import read_topic

from .conftest import (
    applications,
    headers_of,
    record_application,
    scalar,
    thing_consumer,
    thing_contracts,
    things,
)


def event(thing_id: str, version: int, name: str, event_id: str | None = None):
    headers = cloudevent_headers(
        event_id=event_id or str(uuid.uuid4()),
        service="test",
        event_type="tansiq.test.thing.renamed.v1",
        time=datetime.now(UTC),
        subject=thing_id,
    )
    value = json.dumps({"id": thing_id, "name": name, "version": version}).encode()
    return thing_id.encode(), value, headers


async def produce(bootstrap: str, topic: str, messages) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for key, value, headers in messages:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


def runner_for(db, spec, bootstrap, prefix, **settings) -> ConsumerRunner:
    return ConsumerRunner(
        spec=spec,
        service="test",
        sessionmaker=db.sessionmaker,
        bootstrap=bootstrap,
        topic_prefix=prefix,
        settings=ConsumerSettings(initial_backoff_s=0.01, max_backoff_s=0.05, **settings),
    )


async def wait_for(db, sql: str, expected, timeout_s: float = 30) -> None:
    value = None
    for _ in range(int(timeout_s / 0.1)):
        value = await scalar(db, sql)
        if value == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{sql} gave {value!r}, expected {expected!r}")


async def committed_offset_total(bootstrap: str, group: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(meta.offset for meta in offsets.values() if meta.offset > 0)
    finally:
        await admin.close()


async def test_the_same_event_delivered_twice_is_applied_once(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    duplicated = event("t-1", 1, "first", event_id=str(uuid.uuid4()))
    await produce(
        kafka_bootstrap,
        f"{topic_prefix}{topic}",
        [duplicated, duplicated, event("t-1", 2, "second")],
    )
    runner = runner_for(read_model, thing_consumer(topic), kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 2)
        await wait_for(read_model, "select name from test_things where id = 't-1'", "second")
        # the offset is committed once the handler's transaction committed
        for _ in range(100):
            if await committed_offset_total(kafka_bootstrap, runner.group_id) == 3:
                break
            await asyncio.sleep(0.1)
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    assert await scalar(read_model, "select count(*) from test_applications") == 2
    assert await committed_offset_total(kafka_bootstrap, runner.group_id) == 3


async def test_a_poison_message_goes_to_the_dlq_and_the_next_is_applied(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    physical = f"{topic_prefix}{topic}"
    key = b"t-poison"  # one key: all on one partition, so the good one comes after the bad ones
    _, _, good_headers = event("t-poison", 1, "good")
    not_json = (key, b"{not json", good_headers)
    failing = event("t-poison", 1, "explodes")
    good = event("t-poison", 2, "good")

    async def explode_on_request(session, envelope):
        if envelope.data["name"] == "explodes":
            raise RuntimeError("the handler cannot apply this")
        await record_application(session, envelope)

    spec = ConsumerSpec(
        name="test.poison",
        topics=[topic],
        handlers={"tansiq.test.thing.renamed.v1": explode_on_request},
        contracts=thing_contracts(topic),
    )
    await produce(
        kafka_bootstrap,
        physical,
        [not_json, (key, failing[1], failing[2]), (key, good[1], good[2])],
    )
    runner = runner_for(read_model, spec, kafka_bootstrap, topic_prefix, max_attempts=3)
    async with running_consumer(runner):
        await wait_for(read_model, "select name from test_things where id = 't-poison'", "good")
    dead = await read_topic(kafka_bootstrap, [dlq_name(physical)], until=lambda r: len(r) >= 2)
    assert len(dead) == 2
    invalid, failed = sorted(dead, key=lambda r: int(headers_of(r)["dlq_source_offset"]))
    assert headers_of(invalid)["dlq_reason"] == "invalid"
    assert headers_of(invalid)["dlq_error_type"] == "InvalidEvent"
    assert headers_of(invalid)["dlq_source_topic"] == physical
    assert invalid.value == b"{not json"
    assert headers_of(failed)["dlq_reason"] == "failed"
    assert headers_of(failed)["dlq_error"] == "the handler cannot apply this"
    assert headers_of(failed)["dlq_attempts"] == "3"
    assert headers_of(failed)["ce_id"] == headers_of(failed)["ce_id"]  # original headers kept
    assert int(headers_of(failed)["dlq_source_partition"]) == int(
        headers_of(invalid)["dlq_source_partition"]
    )
    assert metrics.CONSUMER_DLQ.labels("test", "test.poison", physical, "failed")._value.get() >= 1


async def test_apply_if_newer_keeps_the_newest_state(read_model):
    async with read_model.sessionmaker() as session, session.begin():
        assert await apply_if_newer(session, things, {"id": "v"}, 2, {"name": "two"})
        assert not await apply_if_newer(session, things, {"id": "v"}, 1, {"name": "one"})
        assert not await apply_if_newer(session, things, {"id": "v"}, 2, {"name": "two again"})
        assert await apply_if_newer(session, things, {"id": "v"}, 3, {"name": "three"})
    async with read_model.engine.connect() as conn:
        row = (await conn.execute(sa.select(things))).one()
    assert (row.name, row.version) == ("three", 3)


async def test_replay_rebuilds_the_same_read_model(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    messages = [event(f"r-{i % 3}", i // 3 + 1, f"name {i}") for i in range(12)]
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", messages)
    spec = thing_consumer(topic, name="test.replayed")
    async with running_consumer(runner_for(read_model, spec, kafka_bootstrap, topic_prefix)):
        await wait_for(read_model, "select count(*) from test_applications", 12)

    async def state():
        async with read_model.engine.connect() as conn:
            rows = (await conn.execute(sa.select(things).order_by(things.c.id))).all()
            applied = (await conn.execute(sa.select(sa.func.sum(applications.c.times)))).scalar()
        return [tuple(r) for r in rows], applied

    before = await state()
    result = await replay(
        spec,
        service="test",
        sessionmaker=read_model.sessionmaker,
        bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
    )
    assert result.outcomes == {"applied": 12}
    assert await state() == before
    assert before[0] == [("r-0", "name 9", 4), ("r-1", "name 10", 4), ("r-2", "name 11", 4)]


async def test_a_fetched_batch_is_applied_in_one_transaction_not_one_per_event(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    # One key: one partition, fetched together once the consumer starts.
    await produce(
        kafka_bootstrap,
        f"{topic_prefix}{topic}",
        [event("t-batch", version, f"v{version}") for version in range(1, 51)],
    )
    runner = runner_for(read_model, thing_consumer(topic), kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 50)
    assert await scalar(read_model, "select name from test_things where id = 't-batch'") == "v50"
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    # Rows written by one transaction share its xmin: far fewer commits than events.
    commits = await scalar(read_model, "select count(distinct xmin::text) from processed_events")
    assert commits < 10, commits
