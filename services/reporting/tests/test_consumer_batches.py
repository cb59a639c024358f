"""The consumer applies a fetched batch in one transaction and writes its records as that
transaction commits, in one statement per table: each record ends at its newest version, every
version's links are marked for evaluation, and freshness counts every event. And rule C3 finds
its neighbours through the (organization, start) table the replica's trigger keeps. A due mark
set while its record is evaluated survives the evaluation."""

from __future__ import annotations

from datetime import timedelta

from tansiq_common.events.consumer import ConsumerRunner
from tansiq_common.events.contracts import AGREEMENT_TOPIC, ENGAGEMENT_TOPIC
from tansiq_common.testing.kafka import FetchedRecord
from tansiq_reporting.consumer import reporting_consumer
from tansiq_reporting.readmodels import store
from tansiq_reporting.readmodels.tables import rm_engagements

from .world import Published


def records(events: list[Published]) -> list[FetchedRecord]:
    out = []
    for offset, event in enumerate(events):
        key, value, headers = event.record()
        out.append(FetchedRecord(event.topic, 0, offset, 0, key, value, headers))
    return out


def runner(world) -> ConsumerRunner:
    return ConsumerRunner(
        spec=reporting_consumer(),
        service="reporting",
        sessionmaker=world.db.sessionmaker,
        bootstrap="127.0.0.1:1",  # never reached: no message is dead-lettered here
    )


async def test_a_batch_keeps_each_records_newest_version_and_marks_every_link(world, qa):
    signed = await world.agreement(qa["moe"], [qa["unesco"]], status="signed")
    other = await world.agreement(qa["moe"], [qa["unesco"]], status="signed")
    await world.tick(world.now)
    assert await world.scalar("select count(*) from rm_agreements where due") == 0
    applied_before = await world.scalar(
        "select events_applied from topic_freshness where topic = :t", t=ENGAGEMENT_TOPIC
    )

    world.hold = True
    e = await world.engagement(qa["moe"], [qa["unesco"]], agreement_ids=[signed])
    await world.update_engagement(e, "updated", agreement_ids=[])  # unlinked in version 2
    created, updated = world.published[-2:]
    late = Published(created.topic, created.name, dict(created.state))  # version 1 again
    await runner(world).process_batch(records([created, updated, late]))

    assert await world.scalar("select version from rm_engagements where id = :i", i=e) == 2
    assert await world.scalar("select agreement_ids from rm_engagements where id = :i", i=e) == []
    # Version 1 linked `signed` (rule C4 depends on its contacts): marked although version 2
    # no longer links it; `other` was never linked.
    assert await world.scalar("select due from rm_agreements where id = :i", i=signed) is True
    assert await world.scalar("select due from rm_agreements where id = :i", i=other) is False
    assert await world.scalar("select due from rm_engagements where id = :i", i=e) is True
    assert (
        await world.scalar(
            "select events_applied from topic_freshness where topic = :t", t=ENGAGEMENT_TOPIC
        )
        == (applied_before or 0) + 3
    )
    assert (
        await world.scalar(
            "select last_event_id from topic_freshness where topic = :t", t=ENGAGEMENT_TOPIC
        )
        == late.event_id
    )
    await world.tick(world.now)
    assert await world.scalar("select count(*) from rm_agreements where due") == 0
    assert await world.scalar("select due from rm_engagements where id = :i", i=e) is False


async def test_a_renewal_in_a_batch_marks_the_agreement_it_supersedes(world, qa):
    old = await world.agreement(qa["moe"], [qa["unesco"]], status="signed")
    await world.tick(world.now)
    world.hold = True
    renewal = await world.agreement(qa["moe"], [qa["unesco"]], status="draft", supersedes=old)
    await runner(world).process_batch(records(world.published[-1:]))
    assert await world.scalar("select due from rm_agreements where id = :i", i=old) is True
    assert await world.scalar("select due from rm_agreements where id = :i", i=renewal) is True
    assert (
        await world.scalar(
            "select last_event_id from topic_freshness where topic = :t", t=AGREEMENT_TOPIC
        )
        == world.published[-1].event_id
    )


async def test_a_batch_redelivered_changes_nothing(world, qa):
    world.hold = True
    e = await world.engagement(qa["moe"], [qa["unesco"]])
    batch = records(world.published[-1:])
    await runner(world).process_batch(batch)
    await world.tick(world.now)
    applied = await world.scalar(
        "select events_applied from topic_freshness where topic = :t", t=ENGAGEMENT_TOPIC
    )
    await runner(world).process_batch(batch)
    assert await world.scalar("select due from rm_engagements where id = :i", i=e) is False
    assert (
        await world.scalar(
            "select events_applied from topic_freshness where topic = :t", t=ENGAGEMENT_TOPIC
        )
        == applied
    )


async def test_c3_follows_an_engagement_that_moves_in_time_or_changes_partner(world, qa):
    day = world.now - timedelta(days=60)
    moe = await world.engagement(qa["moe"], [qa["unicef"]], start=day, sdgs=(4,))
    moph = await world.engagement(
        qa["moph"], [qa["unicef"]], start=day + timedelta(days=10), sdgs=(4,)
    )
    c3 = {("C3", moe), ("C3", moph)}
    assert {f for f in await world.open_findings() if f[0] == "C3"} == c3
    # Moved out of the window: both resolve; back in: both open again.
    await world.update_engagement(moph, start=day + timedelta(days=40))
    assert {f for f in await world.open_findings() if f[0] == "C3"} == set()
    await world.update_engagement(moph, start=day - timedelta(days=29))
    assert {f for f in await world.open_findings() if f[0] == "C3"} == c3
    # Another partner: resolved; the neighbourhood table no longer names UNICEF for it.
    await world.update_engagement(
        moph,
        participants=[
            {"org_id": qa["moph"], "role": "host"},
            {"org_id": qa["unesco"], "role": "participant"},
        ],
    )
    assert {f for f in await world.open_findings() if f[0] == "C3"} == set()
    assert await world.scalar(
        "select array_agg(org_id order by org_id) from rm_engagement_orgs where engagement_id = :i",
        i=moph,
    ) == sorted([qa["moph"], qa["unesco"]])


async def test_a_mark_that_comes_while_a_record_is_evaluated_is_kept(world, qa, monkeypatch):
    """An organization's change marks the engagements naming it without changing them: if
    that comes while one is being evaluated, the evaluation may have read the organization as
    it was, so the mark must survive for the next pass."""
    world.hold = True
    e = await world.engagement(qa["moe"], [qa["unesco"]])
    await runner(world).process_batch(records(world.published[-1:]))
    real = store.neighbourhoods

    async def marked_meanwhile(*args, **kwargs):
        found = await real(*args, **kwargs)
        async with world.db.sessionmaker() as session, session.begin():
            await session.run_sync(store.mark_due, rm_engagements, [e])
        return found

    monkeypatch.setattr(store, "neighbourhoods", marked_meanwhile)
    report = await world.tick(world.now)
    assert report.engagements == 1
    assert await world.scalar("select due from rm_engagements where id = :i", i=e) is True
    monkeypatch.setattr(store, "neighbourhoods", real)
    await world.tick(world.now)
    assert await world.scalar("select due from rm_engagements where id = :i", i=e) is False
