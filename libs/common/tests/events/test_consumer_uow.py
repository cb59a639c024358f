"""Consumers with a unit of work: the events and audit rows a handler causes commit with its
read-model change, exactly once, and name the consumer and the event that caused them."""

from __future__ import annotations

import sqlalchemy as sa
from tansiq_common.events.consumer import ConsumerSpec, apply_if_newer, running_consumer
from tansiq_common.events.outbox import OutboxMessage
from tansiq_common.events.topics import dlq_name
from tansiq_common.schema import audit_log, outbox
from tansiq_common.testing.kafka import read_topic

from .conftest import THING_RENAMED, headers_of, scalar, thing_contracts, things
from .test_consumer import event, produce, runner_for, wait_for


async def mirror(uow, envelope):
    data = envelope.data
    await apply_if_newer(
        uow.session, things, {"id": data["id"]}, data["version"], {"name": data["name"]}
    )
    uow.audit("mirrored", "thing", data["id"], ["name"])
    uow.publish(
        OutboxMessage(
            topic="test.mirror.v1",
            aggregate_type="thing",
            aggregate_id=data["id"],
            event_type="tansiq.test.thing.mirrored.v1",
            payload={"id": data["id"], "name": data["name"], "version": data["version"]},
        )
    )
    if data["name"] == "fails after writing":
        raise RuntimeError("the change, its events and its audit rows roll back together")


async def test_a_consumer_unit_of_work_writes_events_and_audit_once(
    read_model, kafka_bootstrap, topic_prefix, topic
):
    spec = ConsumerSpec(
        name="test.mirror",
        topics=[topic],
        handlers={THING_RENAMED: mirror},
        uses_uow=True,
        contracts=thing_contracts(topic),
    )
    first = event("t-uow", 1, "mirrored")
    failing = event("t-uow", 2, "fails after writing")
    # The same event delivered twice (a producer retry): applied once.
    await produce(kafka_bootstrap, f"{topic_prefix}{topic}", [first, first, failing])
    event_id = {k: v.decode() for k, v in first[2]}["ce_id"]
    runner = runner_for(read_model, spec, kafka_bootstrap, topic_prefix, max_attempts=2)
    async with running_consumer(runner):
        await wait_for(
            read_model,
            "select count(*) from processed_events where consumer = 'test.mirror'",
            1,
        )
        dead = await read_topic(
            kafka_bootstrap, [dlq_name(f"{topic_prefix}{topic}")], until=lambda r: len(r) >= 1
        )
    async with read_model.engine.connect() as conn:
        audits = (await conn.execute(sa.select(audit_log))).mappings().all()
        messages = (await conn.execute(sa.select(outbox))).mappings().all()
    assert [(a["actor_sub"], a["action"], a["entity_id"], a["request_id"]) for a in audits] == [
        ("consumer:test.mirror", "mirrored", "t-uow", event_id)
    ]
    assert audits[0]["changed_fields"] == ["name"]
    assert [(m["topic"], m["type"], m["payload"]) for m in messages] == [
        (
            "test.mirror.v1",
            "tansiq.test.thing.mirrored.v1",
            {"id": "t-uow", "name": "mirrored", "version": 1},
        )
    ]
    assert messages[0]["headers"]["request_id"] == event_id
    # The failing event changed nothing: not the read model, no audit row, no outbox row.
    assert await scalar(read_model, "select name from test_things where id = 't-uow'") == (
        "mirrored"
    )
    assert [headers_of(record)["dlq_reason"] for record in dead] == ["failed"]
