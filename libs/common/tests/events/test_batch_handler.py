"""A consumer with a batch handler: a fetched batch's new events applied at once in one
transaction; refused events dead-lettered with the reason while the rest is applied; a batch that
fails as a whole goes one event at a time through the per-event handlers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import sqlalchemy as sa
from tansiq_common.events.consumer import ConsumerSpec, apply_if_newer, running_consumer
from tansiq_common.events.envelope import Envelope, InvalidEvent
from tansiq_common.events.topics import dlq_name
from tansiq_common.testing.kafka import read_topic

from .conftest import (
    THING_RENAMED,
    headers_of,
    record_application,
    scalar,
    thing_contracts,
    things,
)
from .test_consumer import event, produce, runner_for, wait_for


def batch_spec(topic: str, calls: list[list[str]]) -> ConsumerSpec:
    """Applies each event like `record_application`, all in the batch's transaction; refuses
    names starting with "bad"; a name "explodes" fails the whole batch."""

    async def handle_batch(session, envelopes: Sequence[Envelope]) -> dict[str, InvalidEvent]:
        calls.append([e.data["name"] for e in envelopes])
        refused = {}
        for envelope in envelopes:
            name = envelope.data["name"]
            if name == "explodes":
                raise RuntimeError("the batch as a whole fails")
            if name.startswith("bad"):
                refused[envelope.id] = InvalidEvent(f"{name} is not a name")
                continue
            await record_application(session, envelope)
        return refused

    async def handle_one(session, envelope: Envelope) -> None:
        if envelope.data["name"] == "explodes":
            raise RuntimeError("this event cannot be applied")
        await record_application(session, envelope)

    return ConsumerSpec(
        name="test.batch",
        topics=[topic],
        handlers={THING_RENAMED: handle_one},
        batch_handler=handle_batch,
        tables=["test_things", "test_applications"],
        contracts=thing_contracts(topic),
    )


def _id(message) -> str:
    return headers_of_message(message)["ce_id"]


def headers_of_message(message) -> dict[str, str]:
    return {k: v.decode() for k, v in message[2]}


async def test_a_refused_event_is_dead_lettered_and_the_rest_of_the_batch_applied(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    good = [event("t-b1", version, f"v{version}") for version in range(1, 4)]
    bad = event("t-b2", 1, "bad name")
    forged = event("t-b3", 1, "forged")
    forged = (forged[0], forged[1], [
        (k, b"/tansiq/elsewhere" if k == "ce_source" else v) for k, v in forged[2]
    ])  # fmt: skip
    # One key per partition would spread them; the same key keeps one batch in order.
    messages = [
        (b"k", value, headers) for _, value, headers in [good[0], bad, good[1], forged, good[2]]
    ]
    # The first event again (a producer's retry): applied once.
    messages.append(messages[0])
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", messages)
    calls: list[list[str]] = []
    runner = runner_for(read_model, batch_spec(topic, calls), kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 3)
        dead = await read_topic(
            kafka_bootstrap, [dlq_name(f"{topic_prefix}{topic}")], until=lambda r: len(r) >= 2
        )
    assert calls == [["v1", "bad name", "v2", "v3"]]  # one call, the forged event never in it
    assert await scalar(read_model, "select name from test_things where id = 't-b1'") == "v3"
    assert await scalar(read_model, "select count(*) from test_things where id <> 't-b1'") == 0
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    # The refused event is not remembered as processed: once fixed and re-driven, it applies.
    async with read_model.engine.connect() as conn:
        processed = set(
            (await conn.execute(sa.text("select event_id from processed_events"))).scalars()
        )
    assert processed == {_id(m) for m in good}
    reasons = {
        headers_of(r)["ce_id"]: (
            headers_of(r)["dlq_reason"], headers_of(r)["dlq_error"], headers_of(r)["dlq_attempts"]
        )
        for r in dead
    }  # fmt: skip
    assert reasons == {
        _id(bad): ("invalid", "bad name is not a name", "1"),
        _id(forged): (
            "wrong-source",
            f"ce_source '/tansiq/elsewhere' is not the producer of {topic} ('/tansiq/test')",
            "0",
        ),
    }


async def test_a_batch_failing_as_a_whole_goes_one_event_at_a_time(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    messages = [
        (b"k", value, headers)
        for _, value, headers in [
            event("t-f1", 1, "first"),
            event("t-f2", 1, "explodes"),
            event("t-f3", 1, "third"),
        ]
    ]
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", messages)
    calls: list[list[str]] = []
    runner = runner_for(
        read_model, batch_spec(topic, calls), kafka_bootstrap, topic_prefix, max_attempts=2
    )
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 2)
        dead = await read_topic(
            kafka_bootstrap, [dlq_name(f"{topic_prefix}{topic}")], until=lambda r: len(r) >= 1
        )
    assert calls == [["first", "explodes", "third"]]
    async with read_model.engine.connect() as conn:
        rows = (await conn.execute(sa.select(things.c.id, things.c.name))).all()
    assert sorted(rows) == [("t-f1", "first"), ("t-f3", "third")]
    assert [(headers_of(r)["ce_id"], headers_of(r)["dlq_reason"]) for r in dead] == [
        (_id(messages[1]), "failed")
    ]


async def test_events_applied_before_never_reach_the_batch_handler(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    first = event("t-r1", 1, "once")
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", [first])
    calls: list[list[str]] = []
    runner = runner_for(read_model, batch_spec(topic, calls), kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 1)
    second = event("t-r1", 2, "twice")
    # The first event delivered again with a new one (a replay from an earlier offset).
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", [first, second])
    runner = runner_for(read_model, batch_spec(topic, calls), kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 2)
    assert calls == [["once"], ["twice"]]
    assert await scalar(read_model, "select max(times) from test_applications") == 1
    assert await scalar(read_model, "select name from test_things where id = 't-r1'") == "twice"


async def test_a_batch_handler_with_a_unit_of_work_writes_what_it_causes_with_the_batch(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    async def handle_batch(uow, envelopes):
        for envelope in envelopes:
            data = envelope.data
            await apply_if_newer(
                uow.session, things, {"id": data["id"]}, data["version"], {"name": data["name"]}
            )
            uow.audit("mirrored", "thing", data["id"], ["name"])
        return {}

    async def handle_one(uow, envelope):
        raise AssertionError("the batch applies")

    spec = ConsumerSpec(
        name="test.batch.uow",
        topics=[topic],
        handlers={THING_RENAMED: handle_one},
        batch_handler=handle_batch,
        uses_uow=True,
        contracts=thing_contracts(topic),
    )
    await produce(
        kafka_bootstrap,
        f"{topic_prefix}{topic}",
        [(b"k", v, h) for _, v, h in [event("t-u1", 1, "a"), event("t-u2", 1, "b")]],
    )
    runner = runner_for(read_model, spec, kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 2)
    async with read_model.engine.connect() as conn:
        audits = (
            await conn.execute(sa.text("select actor_sub, action, entity_id from audit_log"))
        ).all()
    assert sorted(audits) == [
        ("consumer:test.batch.uow", "mirrored", "t-u1"),
        ("consumer:test.batch.uow", "mirrored", "t-u2"),
    ]


async def test_a_consumer_fetches_no_more_than_its_own_max_records(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    """A spec's `max_records` bounds each fetched batch (so each transaction), whatever the
    process's CONSUMER_MAX_RECORDS: five events published before the consumer starts come in
    batches of at most two."""
    events = [event(f"t-m{n}", 1, f"name-{n}") for n in range(5)]
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", events)
    calls: list[list[str]] = []
    spec = dataclasses.replace(batch_spec(topic, calls), max_records=2)
    runner = runner_for(read_model, spec, kafka_bootstrap, topic_prefix)
    async with running_consumer(runner):
        await wait_for(read_model, "select count(*) from processed_events", 5)
    assert sorted(name for batch in calls for name in batch) == [f"name-{n}" for n in range(5)]
    assert all(len(batch) <= 2 for batch in calls), calls
    assert len(calls) >= 3
