"""`tansiq seed` for engagements: the demo engagements from the seeds, idempotent, keeping
what users changed."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from tansiq_common.db import Database
from tansiq_common.events.topics import ensure_topics
from tansiq_engagements.demo import DEMO_ENGAGEMENTS, every_org_key, seed

from .conftest import outbox

NATIONAL_PREFIXES = ("demo:qa-", "demo:sy-")


def org_state(key: str) -> dict:
    """An organization as the registry's events carry it (the demo's keys)."""
    org_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-org:{key}"))
    national = key.startswith(NATIONAL_PREFIXES)
    return {
        "id": org_id,
        "source_key": key,
        "kind": "ministry" if national else "un_entity",
        "scope": "national" if national else "international",
        "country": key[5:7].upper() if national else None,
        "ministry_id": org_id if national else None,
        "parent_id": None,
        "designations": ["coordinating_body"]
        if key in ("demo:qa-mofa-icd", "demo:sy-mofae")
        else [],
        "status": "active",
        "version": 1,
    }


ORGS = [org_state(key) for key in sorted(every_org_key())]
BY_KEY = {o["source_key"]: o["id"] for o in ORGS}
QFSW_UNESCO = {
    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "demo-agreement:qfsw-unesco")),
    "source_key": "demo:qa-qfsw-unesco",
    "version": 4,
    "status": "in_force",
    "owner_org_id": BY_KEY["demo:qa-qfsw"],
    "parties": [{"org_id": BY_KEY["demo:qa-qfsw"]}, {"org_id": BY_KEY["demo:unesco"]}],
    "visibility": "interagency",
}


@pytest.fixture
async def db(client, engagements_settings) -> AsyncIterator[Database]:
    database = Database(engagements_settings.database_url, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


async def test_the_demo_engagements_are_created_once_and_kept_as_users_left_them(
    db, engagements_settings, client, sql, auth_headers
):
    report = await seed(db, engagements_settings, organizations=ORGS, agreements=[QFSW_UNESCO])
    assert report["errors"] == []
    assert (report["created"], report["kept"], report["failed"]) == (len(DEMO_ENGAGEMENTS), 0, 0)
    assert await sql.fetchval("SELECT count(*) FROM engagements WHERE source = 'demo'") == len(
        DEMO_ENGAGEMENTS
    )

    rows = await sql.fetch(
        "SELECT external_id, kind, channel, status, extract(year FROM start)::int AS year, "
        "(attendees->>'nationals_trained')::int AS trained, (attendees->>'nationals')::int "
        "AS nationals, agreement_ids, report IS NOT NULL AS reported, "
        "jsonb_array_length(action_items) AS actions FROM engagements"
    )
    by_key = {r["external_id"]: r for r in rows}
    # Spread over the years, through the coordinating body and directly.
    assert {r["year"] for r in rows} >= set(range(2019, 2027))
    assert Counter(r["channel"] for r in rows).keys() >= {"via_coordinating_body", "direct"}
    assert {r["status"] for r in rows} == {"planned", "held", "cancelled", "reported"}
    # Seed 000: the yearly trainings of nationals and the placements in international posts.
    trained = Counter()
    for r in rows:
        if r["kind"] == "training" and r["external_id"].startswith("demo:icd-training-"):
            trained[r["year"]] += r["trained"]
    assert trained[2022] == 31
    assert trained[2020] == 12
    placed_by_2022 = sum(
        r["nationals"] for r in rows if r["kind"] == "placement" and r["year"] <= 2022
    )
    assert placed_by_2022 == 21
    # Seed 002: the forum, with its report and action items, linked to the agreement signed
    # there; seed 004 and 003 are there too.
    forum = by_key["demo:qfsw-embassies-forum"]
    assert (forum["status"], forum["reported"], forum["actions"]) == ("reported", True, 3)
    assert forum["agreement_ids"] == [QFSW_UNESCO["id"]]
    for key in (
        "demo:unoct-strategic-dialogue-4",
        "demo:unoct-beneficiaries-forum-2023",
        "demo:dic-undp-local-development-2021",
    ):
        assert key in by_key
    # Agreements not known yet are simply not linked.
    assert by_key["demo:dic-undp-local-development-2021"]["agreement_ids"] == []
    # Every engagement went out as an event, with its report and action items after it.
    events = await outbox(sql)
    assert Counter(e["type"].split(".")[-2] for e in events)["created"] == len(DEMO_ENGAGEMENTS)

    # A user changes one; seeding again changes nothing and keeps the user's change.
    forum_id = report["ids"]["demo:qfsw-embassies-forum"]
    editor = auth_headers(BY_KEY["demo:qa-qfsw"], ["editor"])
    engagement = (await client.get(f"/v1/engagements/{forum_id}", headers=editor)).json()
    changed = await client.patch(
        f"/v1/engagements/{forum_id}",
        json={"outcome": "Changed by a user"},
        headers={**editor, "If-Match": f'"{engagement["version"]}"'},
    )
    assert changed.status_code == 200, changed.text
    count = await sql.fetchval("SELECT count(*) FROM outbox")
    again = await seed(db, engagements_settings, organizations=ORGS, agreements=[QFSW_UNESCO])
    assert (again["created"], again["kept"], again["failed"]) == (0, len(DEMO_ENGAGEMENTS), 0)
    assert again["ids"] == report["ids"]
    assert await sql.fetchval("SELECT count(*) FROM outbox") == count
    assert (
        await sql.fetchval("SELECT outcome FROM engagements WHERE id = $1::uuid", forum_id)
        == "Changed by a user"
    )


async def test_missing_organizations_fail_the_engagements_that_need_them(
    db, engagements_settings, sql
):
    without_unoct = [o for o in ORGS if o["source_key"] != "demo:unoct"]
    report = await seed(db, engagements_settings, organizations=without_unoct, agreements=[])
    needing = [d for d in DEMO_ENGAGEMENTS if "demo:unoct" in d.organizations()]
    assert report["failed"] == len(needing)
    assert report["created"] == len(DEMO_ENGAGEMENTS) - len(needing)
    assert {e["key"] for e in report["errors"]} == {d.key for d in needing}
    assert "demo:unoct" in report["errors"][0]["error"]
    assert await sql.fetchval("SELECT count(*) FROM engagements") == report["created"]


def registry_event(state: dict) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_source": "/tansiq/registry",
        "ce_type": "tansiq.registry.organization.created.v1",
        "ce_subject": state["id"],
        "content-type": "application/json",
    }
    return (
        state["id"].encode(),
        json.dumps(state).encode(),
        [(k, v.encode()) for k, v in headers.items()],
    )


async def test_the_seed_finds_the_organizations_on_the_registrys_topic(
    db, engagements_settings, sql, kafka_topics, kafka_bootstrap, topic_prefix
):
    # A forged copy of one organization (another producer) must not be taken for it.
    forged = {**org_state("demo:qa-qfsw"), "id": str(uuid.uuid4()), "version": 99}
    forged_event = registry_event(forged)
    forged_event[2][2] = ("ce_source", b"/tansiq/agreements")
    # Topics of this test alone: other tests of the run publish the registry's demo
    # organizations (with other ids) on the run's topics too.
    topic_prefix = f"{topic_prefix}seed{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_prefix)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for state in ORGS:
            key, value, headers = registry_event(state)
            await producer.send_and_wait(
                topic_prefix + "registry.organization.v1", value=value, key=key, headers=headers
            )
        key, value, headers = forged_event
        await producer.send_and_wait(
            topic_prefix + "registry.organization.v1", value=value, key=key, headers=headers
        )
    finally:
        await producer.stop()
    settings = engagements_settings.model_copy(
        update={"demo_wait_s": 20.0, "topic_prefix": topic_prefix}
    )
    report = await seed(db, settings)
    assert report["errors"] == []
    assert report["created"] == len(DEMO_ENGAGEMENTS)
    forum = report["ids"]["demo:qfsw-embassies-forum"]
    lead = await sql.fetchval("SELECT lead_org_id FROM engagements WHERE id = $1::uuid", forum)
    assert lead == BY_KEY["demo:qa-qfsw"]
