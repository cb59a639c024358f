"""On the real broker: the other services' events (as their relays write them) reach reporting's
consumer, forged ones are dead-lettered, and a rebuild from the topics ends in exactly the state
it started from — findings (ids, versions, times, decisions), replicas and counters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.events.consumer import ConsumerRunner, ConsumerSettings, running_consumer
from tansiq_common.events.topics import dlq_name, ensure_topics
from tansiq_common.schema import outbox
from tansiq_common.testing.kafka import read_topic
from tansiq_common.uow import UnitOfWork
from tansiq_reporting.consumer import reporting_consumer
from tansiq_reporting.findings.rules import RecordRef, finding_id
from tansiq_reporting.findings.service import FindingService
from tansiq_reporting.readmodels.store import set_rebuilding
from tansiq_reporting.rebuild import rebuild

from .world import Published, World

FAST = ConsumerSettings(initial_backoff_s=0.01, max_backoff_s=0.05, max_attempts=2)


async def produce(bootstrap: str, prefix: str, events: list[Published], forged: Any = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for event in events:
            key, value, headers = event.record()
            await producer.send_and_wait(
                f"{prefix}{event.topic}", value=value, key=key, headers=headers
            )
        if forged is not None:
            key, value, headers = forged.record()
            headers = [(k, b"/tansiq/registry" if k == "ce_source" else v) for k, v in headers]
            await producer.send_and_wait(
                f"{prefix}{forged.topic}", value=value, key=key, headers=headers
            )
    finally:
        await producer.stop()


async def wait_until(world: World, sql: str, expected: Any, timeout_s: float = 60) -> None:
    value = None
    for _ in range(int(timeout_s / 0.1)):
        value = await world.scalar(sql)
        if value == expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{sql} gave {value!r}, expected {expected!r}")


async def snapshot(world: World) -> dict[str, list[dict[str, Any]]]:
    """Every table reporting rebuilds, row by row (aside: the moment a row was written and how
    many times it was marked due, which depend on the order events came in), and the
    neighbourhood table the engagements' trigger keeps."""
    tables = {
        "findings": "select * from findings order by id",
        "rm_organizations": "select * from rm_organizations order by id",
        "rm_agreements": "select * from rm_agreements order by id",
        "rm_engagements": "select * from rm_engagements order by id",
        "rm_engagement_orgs": "select * from rm_engagement_orgs "
        "order by org_id, start, engagement_id",
        "scorecard_cells": "select * from scorecard_cells where records <> 0 or flagged <> 0 "
        "order by country, ministry_id, month",
        "scorecard_totals": "select * from scorecard_totals where records <> 0 or flagged <> 0 "
        "order by country, ministry_id",
        "coverage_cells": "select * from coverage_cells where engagements <> 0 or agreements <> 0 "
        "order by country, ministry_id, partner_id",
        "topic_freshness": "select topic, events_applied from topic_freshness order by topic",
    }
    found = {}
    async with world.db.engine.connect() as conn:
        for name, sql in tables.items():
            rows = (await conn.execute(sa.text(sql))).mappings().all()
            found[name] = [
                {k: v for k, v in row.items() if k not in ("applied_at", "marks")} for row in rows
            ]
    return found


@pytest.fixture
def on_kafka(world: World) -> World:
    """Events are only collected (for the broker), not applied: ask for it before `qa`."""
    world.hold = True
    return world


@pytest.fixture
async def scenario(on_kafka: World, qa):
    """One case of each rule, look-alikes, a resolved overlap, a restricted record."""
    world = on_kafka
    now, day = world.now, world.now - timedelta(days=60)
    cases = {}
    cases["c1"] = await world.agreement(
        qa["moe_dir"], [qa["unesco"]], status="signed", signed_on=date(2026, 2, 1)
    )
    await world.agreement(
        qa["moe"], [qa["unesco"]], status="signed", cleared=True, signed_on=date(2026, 2, 1)
    )
    cases["c2"] = await world.engagement(qa["moe"], [qa["unesco"]], start=now - timedelta(days=3))
    e1 = await world.engagement(
        qa["moe"], [qa["unicef"]], start=day, sdgs=(4,), channel="via_coordinating_body"
    )
    e2 = await world.engagement(
        qa["moph"],
        [qa["unicef"]],
        start=day + timedelta(days=5),
        sdgs=(4,),
        channel="via_coordinating_body",
    )
    e3 = await world.engagement(
        qa["moph"],
        [qa["unicef"]],
        start=day + timedelta(days=9),
        sdgs=(4,),
        channel="via_coordinating_body",
        visibility="restricted",
    )
    await world.update_engagement(e2, related_engagement_ids=[e1])  # e1-e2 coordinated
    cases.update(e1=e1, e3=e3)
    cases["c4"] = await world.agreement(
        qa["moe"],
        [qa["unesco"]],
        status="in_force",
        cleared=True,
        effective_from=(now - timedelta(days=400)).date(),
        expires_on=date(2030, 1, 1),
    )
    cases["c5"] = await world.engagement(
        qa["moph"],
        [qa["unesco"]],
        channel="via_coordinating_body",
        report_due_on=(now - timedelta(days=2)).date(),
        sdgs=(5,),
    )
    cases["c6"] = await world.agreement(
        qa["moph"],
        [qa["unicef"]],
        status="in_force",
        cleared=True,
        effective_from=(now - timedelta(days=30)).date(),
        expires_on=(now + timedelta(days=40)).date(),
    )
    cases["c7"] = await world.agreement(qa["moph"], [qa["unicef"]], sdgs=(), cleared=True)
    return cases


async def test_events_from_the_broker_and_a_rebuild_that_changes_nothing(
    on_kafka,
    world,
    qa,
    scenario,
    db,
    kafka_bootstrap,
    topic_prefix,
    kafka_topics,
    reporting_settings,
):
    published = list(world.published)
    # Topics of this test alone: other tests of the run publish on the run's topics too.
    topic_prefix = f"{topic_prefix}rebuild{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_prefix)
    reporting_settings = reporting_settings.model_copy(update={"topic_prefix": topic_prefix})
    forged = Published(published[-1].topic, "updated", {**published[-1].state, "version": 99})
    await produce(kafka_bootstrap, topic_prefix, published, forged)
    spec = reporting_consumer()
    runner = ConsumerRunner(
        spec, "reporting", db.sessionmaker, kafka_bootstrap, topic_prefix, settings=FAST
    )
    processed = "select count(*) from processed_events where consumer = 'reporting'"
    async with running_consumer(runner):
        await wait_until(world, processed, len(published))
    dead = await read_topic(
        kafka_bootstrap,
        [dlq_name(f"{topic_prefix}{forged.topic}")],
        until=lambda records: len(records) >= 1,
    )
    assert [dict(r.headers)["dlq_reason"] for r in dead] == [b"wrong-source"]
    assert (
        await world.scalar("select version from rm_agreements where id = :i", i=forged.state["id"])
        == 1
    )
    await world.tick(world.now)  # what the evaluator does when the consumer wakes it

    expected = {
        ("C1", scenario["c1"]),
        ("C3", scenario["e1"]),
        ("C3", scenario["e3"]),
        ("C4", scenario["c4"]),
        ("C5", scenario["c5"]),
        ("C6", scenario["c6"]),
        ("C7", scenario["c7"]),
    }
    assert await world.open_findings() == expected
    # Time passes: the routing rule's notice period runs out.
    report = await world.tick(world.now + timedelta(days=5))
    assert report.opened == [finding_id("C2", RecordRef("engagement", scenario["c2"]))]
    # A coordinator accepts an exception: a decision no topic carries.
    c7 = finding_id("C7", RecordRef("agreement", scenario["c7"]))
    coordinator = Principal(sub="amal", org=qa["icd"], roles=frozenset({"coordinator"}))
    scope = OrgScope(
        org_id=qa["icd"],
        ministry_id=qa["mofa"],
        descendants=frozenset({qa["icd"]}),
        is_coordinating_body=True,
        country="QA",
        national=True,
    )
    await FindingService(UnitOfWork(db.sessionmaker, coordinator), coordinator, scope).accept(
        c7, "A framework text: themes come with its programmes.", None
    )

    assert await world.open_findings() == expected | {("C2", scenario["c2"])}
    before = await snapshot(world)
    events_before = await world.scalar("select count(*) from outbox")
    result = await rebuild(reporting_settings, db, clock=lambda: world.now, consumer_settings=FAST)
    assert result.replay.messages == len(published) + 1
    assert result.replay.outcomes == {"applied": len(published), "dead-lettered": 1}
    assert (result.evaluation.opened, result.evaluation.resolved) == ([], [])
    after = await snapshot(world)
    for table in before:
        assert after[table] == before[table], table
    accepted = next(f for f in after["findings"] if f["id"] == c7)
    assert (accepted["status"], accepted["acceptance"]["by"]) == ("accepted", "amal")
    # Nothing changed, so nothing was published.
    assert await world.scalar("select count(*) from outbox") == events_before
    assert await world.scalar("select rebuilding from rebuild_state") is False


async def test_while_rebuilding_events_only_fill_the_replicas(world, qa, db):
    async with db.sessionmaker() as session, session.begin():
        await set_rebuilding(session, True)
    signed = await world.agreement(qa["moe"], [qa["unesco"]], status="signed")
    assert await world.open_findings() == set()
    assert await world.scalar("select due from rm_agreements where id = :i", i=signed) is True
    report = await world.tick(world.now)  # the scheduled pass waits for the rebuild too
    assert report.agreements == 0
    async with db.sessionmaker() as session, session.begin():
        await set_rebuilding(session, False)
    report = await world.tick(world.now)
    assert report.opened == [finding_id("C1", RecordRef("agreement", signed))]
    async with world.db.engine.connect() as conn:
        published = (await conn.execute(sa.select(outbox.c.type))).scalars().all()
    assert published == ["tansiq.reporting.finding.opened.v1"]
