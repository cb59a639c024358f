"""`tansiq seed`'s agreements: created from the registry's demo organizations, idempotent, and
keeping what users changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from tansiq_agreements.demo import DEMO_AGREEMENTS, seed
from tansiq_common.db import Database
from tansiq_common.testing.databases import _plain as plain
from tansiq_registry.organizations.demo import seed as seed_registry


@pytest.fixture(scope="session")
async def demo_organizations(registry_db) -> list[dict]:
    """The registry's demo organizations, as `tansiq seed` loads them, by their events."""
    db = Database(registry_db, pool_size=1, max_overflow=0)
    try:
        report = await seed_registry(db, ["QA", "SY"])
    finally:
        await db.dispose()
    assert report["failed"] == 0, report
    conn = await asyncpg.connect(plain(registry_db))
    try:
        rows = await conn.fetch("select payload from outbox order by seq")
    finally:
        await conn.close()
    states = [json.loads(r["payload"]) for r in rows]
    return [s for s in states if (s.get("source_key") or "").startswith("demo:")]


@pytest.fixture
async def agreements_database(agreements_db):
    db = Database(agreements_db, pool_size=2, max_overflow=0)
    yield db
    await db.dispose()


async def test_seed_creates_the_demo_agreements_then_keeps_them(
    client, agreements_database, agreements_settings, demo_organizations, sql, auth_headers
):
    report = await seed(agreements_database, agreements_settings, demo_organizations)
    assert report["errors"] == []
    assert (report["created"], report["kept"], report["failed"]) == (len(DEMO_AGREEMENTS), 0, 0)
    org = {s["source_key"]: s["id"] for s in demo_organizations}
    ids = report["ids"]
    rows = {
        r["source_key"]: r
        for r in await sql.fetch(
            "select source_key, id::text, status, signed_uncleared, cleared, clearance, "
            "supersedes::text, superseded_by::text, visibility, expires_on, owner_org_id "
            "from agreements"
        )
    }
    assert set(rows) == {d.key for d in DEMO_AGREEMENTS}

    # Seed 002: the foundation signed with UNESCO at its forum, never through the coordinating
    # body: in force, signed without clearance.
    qfsw = rows["demo:qa-qfsw-unesco"]
    assert (qfsw["status"], qfsw["signed_uncleared"], qfsw["cleared"]) == ("in_force", True, False)
    assert qfsw["owner_org_id"] == org["demo:qa-qfsw"]

    # Seed 000: three partnership agreements signed by the end of 2022; the ESCWA one renewed.
    icd = auth_headers(org["demo:qa-mofa-icd"], ["coordinator"])
    counted = await client.get(
        "/v1/agreements/count?kind=partnership_agreement&signed_to=2022-12-31", headers=icd
    )
    assert counted.json() == {"count": 3}
    old, new = (
        rows["demo:qa-icd-escwa-partnership-2020"],
        rows["demo:qa-icd-escwa-partnership-2025"],
    )
    assert (old["status"], old["superseded_by"]) == ("expired", new["id"])
    assert (new["status"], new["supersedes"], new["cleared"]) == ("in_force", old["id"], True)

    # Seed 003: Syria's directorate; cleared by the Ministry of Foreign Affairs and Expatriates.
    undp = rows["demo:sy-dic-undp-mou"]
    assert (undp["status"], undp["cleared"]) == ("in_force", True)
    assert json.loads(undp["clearance"])["decided_by_org_id"] == org["demo:sy-mofae"]
    assert rows["demo:sy-dic-unicef-mou"]["status"] == "submitted"
    returned = rows["demo:sy-dic-escwa-local-data"]
    assert returned["status"] == "returned"
    assert json.loads(returned["clearance"])["decision"] == "returned"
    assert rows["demo:qa-moi-unoct-fusion-cells"]["visibility"] == "restricted"
    assert rows["demo:qa-mehe-unesco-loi"]["status"] == "draft"

    # Some expire soon: in force, within 90 days.
    soon = datetime.now(UTC).date() + timedelta(days=90)
    expiring = {k for k, r in rows.items() if r["status"] == "in_force" and r["expires_on"] <= soon}
    assert expiring == {
        "demo:qa-icd-sesric-partnership-2022",
        "demo:qa-mol-ilo-mou",
        "demo:sy-dic-undp-mou",
    }
    # Every demo agreement passes the same checks and leaves the same trail as a user's.
    assert await sql.fetchval("select count(distinct aggregateid) from outbox") == len(rows)
    assert ids["demo:qa-qfsw-unesco"] == qfsw["id"]

    # What the API reads (straight from the row) is exactly the state the last event carried.
    auditor = auth_headers("global-auditor", ["auditor"])
    for row in rows.values():
        shown = (await client.get(f"/v1/agreements/{row['id']}", headers=auditor)).json()
        last = await sql.fetchval(
            "select payload from outbox where aggregateid = $1 order by seq desc limit 1", row["id"]
        )
        assert {k: v for k, v in shown.items() if k != "allowed_actions"} == json.loads(last)
    listed = await client.get("/v1/agreements?limit=100", headers=auditor)
    assert {a["id"]: a for a in listed.json()["items"]} == {
        a["id"]: a
        for a in [
            (await client.get(f"/v1/agreements/{r['id']}", headers=auditor)).json()
            for r in rows.values()
        ]
    }

    # A user changes one; seeding again changes nothing and keeps the user's change.
    mehe = rows["demo:qa-mehe-unesco-loi"]
    changed = await client.patch(
        f"/v1/agreements/{mehe['id']}",
        json={"title": {"en": "Letter of intent on inclusive and special education"}},
        headers={**auth_headers(org["demo:qa-mehe"], ["editor"]), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    events = await sql.fetchval("select count(*) from outbox")
    again = await seed(agreements_database, agreements_settings, demo_organizations)
    assert (again["created"], again["kept"], again["failed"]) == (0, len(DEMO_AGREEMENTS), 0)
    assert again["ids"] == ids
    assert await sql.fetchval("select count(*) from outbox") == events
    title = await sql.fetchval("select title->>'en' from agreements where id = $1", mehe["id"])
    assert title == "Letter of intent on inclusive and special education"


async def test_seed_without_the_organizations_reports_each_agreement_failed(
    client, agreements_database, agreements_settings, sql
):
    settings = agreements_settings.model_copy(update={"demo_wait_s": 0.0})
    report = await seed(agreements_database, settings, [])
    assert (report["created"], report["kept"], report["failed"]) == (0, 0, len(DEMO_AGREEMENTS))
    assert "have not reached the agreements service" in report["errors"][0]["error"]
    assert await sql.fetchval("select count(*) from agreements") == 0
