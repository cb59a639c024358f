"""The batch door of ingestion: POST /v1/ingest/engagements."""

from __future__ import annotations

import asyncio

import pytest
from tansiq_common.auth import OrgScope
from tansiq_common.codec import state_fields
from tansiq_engagements.engagements.ingest import (
    MAX_CLAIMED_ORGS,
    InvalidOrgsClaim,
    integration_leads,
)
from tansiq_engagements.engagements.model import Engagement

from .conftest import (
    AGREEMENT,
    ICD,
    MOFA,
    MOI,
    MSDF,
    PROBLEM,
    QFSW,
    UNESCO,
    WIFAQ,
    _id,
    ingest_item,
    outbox,
)

URL = "/v1/ingest/engagements"


@pytest.fixture
def job(auth_headers):
    """An integration job of the Qatar Foundation for Social Work (and what is below it)."""
    return auth_headers(QFSW.id, ["integration"], sub="calendar-job")


async def test_a_batch_creates_updates_keeps_and_rejects_item_by_item(client, job, sql):
    first = await client.post(
        URL,
        json={
            "items": [ingest_item("cal-1"), ingest_item("cal-2", lead_org_id=WIFAQ.id, status="planned")]
        },
        headers=job,
    )  # fmt: skip
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["items"], report["created"], report["rejected"]) == (2, 2, 0)
    one, two = report["results"]
    assert (one["index"], one["result"], one["external_id"], one["version"]) == (
        0,
        "created",
        "cal-1",
        1,
    )
    assert (two["index"], two["result"], two["external_id"]) == (1, "created", "cal-2")

    second = await client.post(
        URL,
        json={
            "items": [
                ingest_item("cal-1"),  # the same again
                ingest_item("cal-2", lead_org_id=WIFAQ.id, status="cancelled", outcome=None),
                ingest_item("cal-3", end="2025-03-10T08:00:00+03:00"),  # ends before it starts
                ingest_item("cal-4", lead_org_id=_id("nobody")),
                ingest_item("cal-5", participants=[{"org_id": UNESCO.id}, {"org_id": UNESCO.id}]),
                ingest_item("cal-6", attendees={"total": 3, "nationals": 4}),
                ingest_item("cal-7", agreement_ids=[_id("no-agreement")]),
                {"kind": "meeting"},  # not an item at all
                "garbage",
                ingest_item("cal-8", lead_org_id=MOI.id),  # another ministry's engagement
                ingest_item("cal-9", source="manual"),
                ingest_item("cal-10"),
            ]
        },
        headers=job,
    )
    assert second.status_code == 200, second.text
    report = second.json()
    assert {k: report[k] for k in ("items", "created", "updated", "unchanged", "rejected")} == {
        "items": 12, "created": 1, "updated": 1, "unchanged": 1, "rejected": 9,
    }  # fmt: skip
    results = report["results"]
    assert [r["index"] for r in results] == list(range(12))
    assert [r["result"] for r in results] == [
        "unchanged", "updated", "rejected", "rejected", "rejected", "rejected", "rejected",
        "rejected", "rejected", "rejected", "rejected", "created",
    ]  # fmt: skip
    assert results[0]["id"] == one["id"]
    assert results[0]["version"] == 1
    assert results[1]["changed_fields"] == ["outcome", "status"]
    assert results[1]["version"] == 2
    reasons = [[e["type"] for e in r["errors"]] for r in results[2:11]]
    assert reasons == [
        ["invalid-dates"],
        ["unknown-organization"],
        ["duplicate-participant"],
        ["invalid-attendees"],
        ["unknown-agreement"],
        ["validation-error"] * 5,  # title, start, lead_org_id, source, external_id
        ["validation-error"],
        ["organization-scope"],
        ["invalid-source"],
    ]
    assert results[7]["source"] is None
    assert results[8]["external_id"] is None
    assert results[9]["errors"][0]["message"] == (
        f"This integration token does not push engagements led by {MOI.id}."
    )
    assert not any(r["retryable"] for r in results)
    # Nothing half-written: three engagements, one event per real change, audit alike.
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 3
    events = await outbox(sql)
    assert [(e["payload"]["external_id"], e["type"].split(".")[-2]) for e in events] == [
        ("cal-1", "created"), ("cal-2", "created"), ("cal-10", "created"), ("cal-2", "cancelled"),
    ]  # fmt: skip
    assert await sql.fetchval("SELECT count(*) FROM audit_log") == 4
    assert (
        await sql.fetchval("SELECT count(*) FROM audit_log WHERE actor_sub = 'calendar-job'") == 4
    )


async def test_an_item_is_the_whole_record_what_it_leaves_out_is_reset(client, job, as_editor):
    created = (await client.post(URL, json={"items": [ingest_item("cal-1")]}, headers=job)).json()
    engagement_id = created["results"][0]["id"]
    # A user files the report and adds an action item; the job then pushes a shorter item.
    lead = as_editor(QFSW)
    await client.put(f"/v1/engagements/{engagement_id}/report", json={"text": "r"}, headers=lead)
    await client.post(
        f"/v1/engagements/{engagement_id}/action-items",
        json={"title": "t", "owner_org_id": QFSW.id},
        headers=lead,
    )
    item = ingest_item("cal-1", agreement_ids=[], themes=None, outcome=None, location=None)
    del item["attendees"], item["report_due_on"]
    updated = (await client.post(URL, json={"items": [item]}, headers=job)).json()["results"][0]
    assert updated["result"] == "updated"
    assert updated["changed_fields"] == [
        "agreement_ids", "attendees", "location", "outcome", "report_due_on", "themes",
    ]  # fmt: skip
    state = (await client.get(f"/v1/engagements/{engagement_id}", headers=lead)).json()
    assert state["attendees"] == {"total": 0, "nationals": 0, "nationals_trained": 0}
    assert state["status"] == "reported"  # the item says held: a reported one was held
    assert state["report"]["text"] == "r"
    assert len(state["action_items"]) == 1


async def test_the_token_is_for_its_organization_and_below_or_the_orgs_it_lists(
    client, auth_headers, sql
):
    below = auth_headers(MSDF.id, ["integration"])
    report = (
        await client.post(
            URL, json={"items": [ingest_item("a", lead_org_id=WIFAQ.id)]}, headers=below
        )
    ).json()
    assert report["created"] == 1
    # With an `orgs` claim, exactly the organizations listed (and those below them).
    listed = auth_headers(MOFA.id, ["integration"], orgs=[QFSW.id.upper(), MOI.id])
    report = (
        await client.post(
            URL,
            json={
                "items": [
                    ingest_item("b", lead_org_id=WIFAQ.id),
                    ingest_item("c", lead_org_id=MOI.id),
                    ingest_item("d", lead_org_id=ICD.id),  # below the token's org, not listed
                ]
            },
            headers=listed,
        )
    ).json()
    assert [r["result"] for r in report["results"]] == ["created", "created", "rejected"]
    # A job may not take over an engagement another organization leads by pushing its key.
    takeover = auth_headers(MOI.id, ["integration"])
    report = (
        await client.post(
            URL, json={"items": [ingest_item("a", lead_org_id=MOI.id)]}, headers=takeover
        )
    ).json()
    assert report["results"][0]["errors"][0]["type"] == "organization-scope"
    # A token for no organization the registry knows, or with a malformed claim, pushes nothing.
    nobody = auth_headers(_id("unknown-org"), ["integration"])
    response = await client.post(URL, json={"items": [ingest_item("e")]}, headers=nobody)
    assert response.status_code == 403
    assert response.json()["type"] == PROBLEM + "organization-scope"
    malformed = auth_headers(QFSW.id, ["integration"], orgs=QFSW.id)
    response = await client.post(URL, json={"items": [ingest_item("f")]}, headers=malformed)
    assert response.status_code == 403
    assert response.json()["type"] == PROBLEM + "invalid-orgs-claim"
    editor = auth_headers(QFSW.id, ["editor"])
    response = await client.post(URL, json={"items": [ingest_item("g")]}, headers=editor)
    assert response.status_code == 403
    assert response.json()["type"] == PROBLEM + "role-not-allowed"
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 3


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        pytest.param({"items": []}, 422, "validation-error", id="empty"),
        pytest.param({"items": "x"}, 422, "validation-error", id="not-a-list"),
        pytest.param({}, 422, "validation-error", id="no-items"),
        pytest.param({"items": [{}], "more": 1}, 422, "validation-error", id="unknown-field"),
        pytest.param({"items": [{}] * 1001}, 422, "batch-too-large", id="1001-items"),
    ],
)
async def test_a_malformed_batch_is_refused_whole(client, job, sql, body, status, problem):
    response = await client.post(URL, json=body, headers=job)
    assert response.status_code == status, response.text
    assert response.json()["type"] == PROBLEM + problem
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 0


async def test_invalid_json_is_400(client, job):
    response = await client.post(
        URL, content=b'{"items": [', headers={**job, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM + "malformed-json"


async def test_a_thousand_items_go_in_one_call(client, job, sql):
    items = [ingest_item(f"bulk-{i:04d}", agreement_ids=[AGREEMENT]) for i in range(1000)]
    response = await client.post(URL, json={"items": items}, headers=job)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1000
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1000
    again = await client.post(URL, json={"items": items}, headers=job)
    assert again.json()["unchanged"] == 1000
    assert await sql.fetchval("SELECT count(*) FROM outbox") == 1000


async def test_a_referenced_owner_that_does_not_answer_rejects_only_its_items_retryably(
    client, job, owners, sql
):
    owners.down = True
    report = (
        await client.post(
            URL,
            json={
                "items": [
                    ingest_item("x", participants=[{"org_id": _id("unknown-to-replica")}]),
                    ingest_item("y"),
                ]
            },
            headers=job,
        )
    ).json()
    first, second = report["results"]
    assert (first["result"], first["retryable"]) == ("rejected", True)
    assert first["errors"][0]["type"] == "reference-unavailable"
    assert second["result"] == "created"
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1


async def test_retries_and_concurrent_pushes_of_one_item_leave_exactly_one_engagement(
    client, job, sql
):
    item = ingest_item("cal-race")
    responses = await asyncio.gather(
        *(client.post(URL, json={"items": [item]}, headers=job) for _ in range(8))
    )
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    results = [r.json()["results"][0] for r in responses]
    assert sorted(r["result"] for r in results) == ["created"] + ["unchanged"] * 7
    assert len({r["id"] for r in results}) == 1
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1
    assert [e["type"].split(".")[-2] for e in await outbox(sql)] == ["created"]
    # Overlapping batches in different orders do not deadlock each other.
    keys = [f"k-{i}" for i in range(20)]
    batches = [
        [ingest_item(k, outcome=f"round {n}") for k in (keys if n % 2 else list(reversed(keys)))]
        for n in range(4)
    ]
    responses = await asyncio.gather(
        *(client.post(URL, json={"items": b}, headers=job) for b in batches)
    )
    assert all(r.status_code == 200 for r in responses)
    assert all(r.json()["rejected"] == 0 for r in responses)
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 21


async def test_an_item_the_database_refuses_is_rejected_alone(client, job, sql):
    """A failure only the database sees (here a trigger refusing one row) rolls back the bulk
    write; the items are then applied one by one and only the refused one is rejected."""
    await sql.execute(
        """
        CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'refused by the test'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse_poison BEFORE INSERT ON engagements
            FOR EACH ROW EXECUTE FUNCTION test_refuse_poison();
        """
    )
    try:
        response = await client.post(
            URL,
            json={"items": [ingest_item("fine-1"), ingest_item("poison"), ingest_item("fine-2")]},
            headers=job,
        )
    finally:
        await sql.execute(
            "DROP TRIGGER test_refuse_poison ON engagements; DROP FUNCTION test_refuse_poison();"
        )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["created", "rejected", "created"]
    assert results[1]["errors"] == [
        {"field": None, "message": "could not be stored", "type": "storage"}
    ]
    assert results[1]["retryable"] is True
    rows = await sql.fetch("SELECT external_id FROM engagements ORDER BY external_id")
    assert [r["external_id"] for r in rows] == ["fine-1", "fine-2"]
    events = await outbox(sql)
    assert sorted(e["payload"]["external_id"] for e in events) == ["fine-1", "fine-2"]
    assert await sql.fetchval("SELECT count(*) FROM audit_log") == 2


async def test_an_item_may_relate_to_one_created_earlier_in_the_same_batch(client, job, sql):
    first = ingest_item("a-first")
    response = await client.post(URL, json={"items": [first]}, headers=job)
    first_id = response.json()["results"][0]["id"]
    # A new pair in one batch: "b-second" relates to "b-first", created just before it.
    b_first = ingest_item("b-first", related_engagement_ids=[first_id])
    probe = await client.post(URL, json={"items": [b_first]}, headers=job)
    b_first_id = probe.json()["results"][0]["id"]
    await sql.execute("DELETE FROM engagements WHERE id = $1::uuid", b_first_id)
    both = await client.post(
        URL,
        json={"items": [ingest_item("b-second", related_engagement_ids=[b_first_id]), b_first]},
        headers=job,
    )
    assert [r["result"] for r in both.json()["results"]] == ["created", "created"]
    related = await sql.fetchval(
        "SELECT related_engagement_ids FROM engagements WHERE external_id = 'b-second'"
    )
    assert related == [b_first_id]


async def test_each_change_publishes_the_state_it_made_whether_in_one_batch_or_later(
    client, job, sql
):
    """A batch writes each state once: an event carrying its row's state takes it from the row
    (less the derived columns), one carrying an earlier state carries its own."""
    first = await client.post(
        URL,
        json={"items": [ingest_item("cal-1", outcome="First"), ingest_item("cal-1", outcome="Second")]},
        headers=job,
    )  # fmt: skip
    assert [r["result"] for r in first.json()["results"]] == ["created", "updated"]
    later = await client.post(
        URL, json={"items": [ingest_item("cal-1", outcome="Third")]}, headers=job
    )
    assert [r["result"] for r in later.json()["results"]] == ["updated"]

    events = await outbox(sql)
    state = {name for name, _ in state_fields(Engagement)}
    assert [set(e["payload"]) for e in events] == [state, state, state]
    assert [(e["payload"]["version"], e["payload"]["outcome"]) for e in events] == [
        (1, "First"),
        (2, "Second"),
        (3, "Third"),
    ]
    row = await sql.fetchrow("SELECT id::text, version, outcome FROM engagements")
    assert (row["version"], row["outcome"]) == (3, "Third")
    assert {e["id"] for e in events} == {row["id"]}
    ids = await sql.fetch("SELECT id FROM outbox ORDER BY seq")
    assert len({r["id"] for r in ids}) == 3  # each event its own id


class Directory:
    """Two organizations, each with one below it; records every organization it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def scope_of(self, org_id: str) -> OrgScope:
        self.asked.append(org_id)
        below = {QFSW.id: WIFAQ.id, MOI.id: ICD.id}
        if org_id not in below:
            return OrgScope.empty(org_id)
        return OrgScope(org_id, descendants=frozenset({org_id, below[org_id]}))


async def test_the_leads_of_an_integration_token_are_its_claim_or_its_own_scope():
    own = OrgScope(MSDF.id, descendants=frozenset({MSDF.id}))
    directory = Directory()
    assert await integration_leads(None, own, directory) == frozenset({MSDF.id})
    assert directory.asked == []
    # Each listed organization (looked up once) with those below it; no UUID names nothing.
    claimed = [QFSW.id.upper(), MOI.id, QFSW.id, "not-an-id", _id("unknown-org")]
    leads = await integration_leads(claimed, own, directory)
    assert leads == frozenset({QFSW.id, WIFAQ.id, MOI.id, ICD.id})
    assert directory.asked == [QFSW.id, MOI.id, _id("unknown-org")]
    assert await integration_leads([], own, directory) == frozenset()
    for malformed in (QFSW.id, [QFSW.id, 7], [MOI.id] * (MAX_CLAIMED_ORGS + 1)):
        with pytest.raises(InvalidOrgsClaim):
            await integration_leads(malformed, own, directory)
