"""The lifecycle through POST /v1/agreements/{id}/actions/{action}: who may act, what each
transition records (status, clearance, history, events, audit), and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

PROBLEM = "application/problem+json"


def problem(slug: str) -> str:
    return f"urn:tansiq:problem:{slug}"


def verbs(events) -> list[str]:
    return [
        e["type"].removeprefix("tansiq.agreements.agreement.").removesuffix(".v1") for e in events
    ]


@pytest.fixture
def act(client, as_):
    async def call(agreement_id: str, action: str, who: tuple[str, ...], json=None, **headers):
        return await client.post(
            f"/v1/agreements/{agreement_id}/actions/{action}",
            json=json,
            headers={**as_(*who), **headers},
        )

    return call


EDITOR = ("qfsw", "editor")
QA_COORDINATOR = ("icd", "coordinator")
SY_COORDINATOR = ("mofae", "coordinator")


async def test_clearance_path_records_the_decision_history_events_and_audit(
    client, world, as_, create, act, outbox, sql
):
    a = await create()
    submitted = await act(a["id"], "submit", EDITOR)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"
    assert submitted.json()["allowed_actions"] == ["clear", "return", "sign", "terminate"]
    assert submitted.headers["etag"] == '"2"'

    cleared = await act(
        a["id"], "clear", QA_COORDINATOR, {"conditions": "Report to the ICD yearly."},
        **{"If-Match": '"2"'},
    )  # fmt: skip
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert body["status"] == "cleared"
    assert body["cleared"] is True
    clearance = body["clearance"]
    assert clearance["decision"] == "cleared"
    assert clearance["decided_by"] == "icd-coordinator"
    assert clearance["decided_by_org_id"] == world["icd"]
    assert clearance["conditions"] == "Report to the ICD yearly."
    assert clearance["comments"] is None
    decided_at = datetime.fromisoformat(clearance["decided_at"])
    assert abs(decided_at - datetime.now(UTC)) < timedelta(seconds=30)

    signed = await act(a["id"], "sign", EDITOR, {"signed_on": "2024-01-10"})
    assert signed.status_code == 200, signed.text
    assert (signed.json()["status"], signed.json()["signed_on"]) == ("signed", "2024-01-10")
    assert signed.json()["signed_uncleared"] is False
    in_force = await act(a["id"], "enter-into-force", EDITOR)
    assert in_force.status_code == 200, in_force.text
    assert in_force.json()["status"] == "in_force"
    assert in_force.json()["effective_from"] == "2024-01-01"
    assert in_force.json()["allowed_actions"] == ["terminate", "expire", "renew"]

    events = await outbox(a["id"])
    assert verbs(events) == ["created", "submitted", "cleared", "signed", "entered-into-force"]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["status"] for e in events] == ["draft", "submitted", "cleared", "signed", "in_force"]
    assert events[2]["clearance"]["decided_by_org_id"] == world["icd"]
    assert {e["topic"] for e in events} == {"agreements.agreement.v1"}

    history = await client.get(f"/v1/agreements/{a['id']}/history", headers=as_("moi", "viewer"))
    entries = history.json()["items"]
    assert [(h["version"], h["event"]) for h in entries] == [
        (1, "created"), (2, "submitted"), (3, "cleared"), (4, "signed"), (5, "entered-into-force")
    ]  # fmt: skip
    assert entries[2]["actor"] == {"sub": "icd-coordinator", "org_id": world["icd"]}
    assert entries[2]["details"] == {"conditions": "Report to the ICD yearly."}
    assert entries[2]["changed_fields"] == ["status", "clearance", "cleared"]
    assert entries[3]["details"] == {"signed_on": "2024-01-10", "without_clearance": False}
    assert entries[4]["details"] == {"effective_from": "2024-01-01"}
    audit = await sql.fetch("select action, actor_sub from audit_log order by id")
    assert [tuple(r) for r in audit] == [
        ("agreement.created", "qfsw-editor"),
        ("agreement.submitted", "qfsw-editor"),
        ("agreement.cleared", "icd-coordinator"),
        ("agreement.signed", "qfsw-editor"),
        ("agreement.entered-into-force", "qfsw-editor"),
    ]

    paged = await client.get(
        f"/v1/agreements/{a['id']}/history?limit=2", headers=as_("moi", "viewer")
    )
    assert [h["version"] for h in paged.json()["items"]] == [1, 2]
    rest = await client.get(
        f"/v1/agreements/{a['id']}/history?limit=10&cursor={paged.json()['next_cursor']}",
        headers=as_("moi", "viewer"),
    )
    assert [h["version"] for h in rest.json()["items"]] == [3, 4, 5]
    assert rest.json()["next_cursor"] is None


async def test_signing_without_clearance_is_what_reporting_sees(client, create, act, outbox):
    a = await create()
    signed = await act(a["id"], "sign", EDITOR, {"signed_on": "2024-02-01"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["signed_uncleared"] is True
    assert signed.json()["clearance"] is None
    [_, event] = await outbox(a["id"])
    assert event["type"] == "tansiq.agreements.agreement.signed.v1"
    assert (event["status"], event["signed_uncleared"], event["cleared"]) == ("signed", True, False)


async def test_return_records_comments_and_the_owner_resubmits(client, world, create, act, outbox):
    a = await create()
    await act(a["id"], "submit", EDITOR)
    returned = await act(
        a["id"], "return", QA_COORDINATOR, {"comments": "Name the national counterpart."}
    )
    assert returned.status_code == 200, returned.text
    body = returned.json()
    assert body["status"] == "returned"
    assert body["clearance"]["decision"] == "returned"
    assert body["clearance"]["comments"] == "Name the national counterpart."
    assert body["cleared"] is False
    assert body["allowed_actions"] == ["submit", "sign", "terminate"]
    again = await act(a["id"], "submit", EDITOR)
    assert again.json()["status"] == "submitted"
    assert verbs(await outbox(a["id"])) == ["created", "submitted", "returned", "submitted"]


@pytest.mark.parametrize(
    ("who", "slug"),
    [
        (("icd", "editor"), "role-not-allowed"),  # the right body, not the right role
        (("moi", "coordinator"), "not-clearing-coordinator"),  # not a coordinating body
        (SY_COORDINATOR, "not-clearing-coordinator"),  # another country's coordinating body
        (("qfsw", "coordinator"), "not-clearing-coordinator"),
    ],
    ids=["editor-of-the-body", "coordinator-of-a-ministry", "other-country", "owner"],
)
async def test_only_a_coordinator_of_the_owners_country_decides_clearance(
    create, act, counts, who, slug
):
    a = await create()
    await act(a["id"], "submit", EDITOR)
    before = await counts()
    for action, body in (("clear", {}), ("return", {"comments": "No."})):
        response = await act(a["id"], action, who, body)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"] == problem(slug)
    assert await counts() == before


async def test_syrias_coordinating_body_clears_syrian_agreements(world, create, act):
    a = await create(
        editor=("dic", "editor"),
        owner_org_id=world["dic"],
        parties=[
            {"org_id": world["dic"], "role": "signatory"},
            {"org_id": world["undp"], "role": "funder"},
        ],
        funding=[{"funder_org_id": world["undp"], "amount": "1200000.00", "currency": "USD"}],
    )
    assert a["owner_country"] == "SY"
    assert a["owner_ministry_id"] == world["mlae"]
    await act(a["id"], "submit", ("dic", "editor"))
    refused = await act(a["id"], "clear", QA_COORDINATOR, {})
    assert refused.status_code == 403
    cleared = await act(a["id"], "clear", SY_COORDINATOR, {"comments": "In line with national law"})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["clearance"]["decided_by_org_id"] == world["mofae"]


async def test_illegal_transition_is_409_naming_status_and_allowed_actions(create, act, counts):
    a = await create()
    before = await counts()
    response = await act(a["id"], "enter-into-force", EDITOR)
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == problem("illegal-transition")
    assert body["current_status"] == "draft"
    assert body["action"] == "enter-into-force"
    assert body["allowed_actions"] == ["submit", "sign", "terminate"]
    assert body["status"] == 409
    cleared_draft = await act(a["id"], "clear", QA_COORDINATOR, {})
    assert cleared_draft.status_code == 409
    assert cleared_draft.json()["current_status"] == "draft"
    assert await counts() == before


@pytest.mark.parametrize(
    ("action", "json"),
    [
        ("sign", None),
        ("sign", {}),
        ("sign", {"signed_on": "yesterday"}),
        ("terminate", {}),
        ("terminate", {"reason": ""}),
        ("submit", {"note": "unexpected"}),
        ("sign", {"signed_on": "2024-01-10", "cleared": True}),
    ],
    ids=["sign-no-body", "sign-no-date", "sign-bad-date", "terminate-no-reason",
         "terminate-empty-reason", "submit-unknown-field", "sign-extra-field"],
)  # fmt: skip
async def test_an_action_body_missing_what_it_needs_is_422(create, act, counts, action, json):
    a = await create()
    before = await counts()
    response = await act(a["id"], action, EDITOR, json)
    assert response.status_code == 422, response.text
    assert response.json()["type"] == problem("validation-error")
    assert await counts() == before


async def test_return_without_comments_is_422(create, act, counts):
    a = await create()
    await act(a["id"], "submit", EDITOR)
    before = await counts()
    for body in (None, {}, {"comments": ""}):
        response = await act(a["id"], "return", QA_COORDINATOR, body)
        assert response.status_code == 422, response.text
    assert await counts() == before


async def test_sign_in_the_future_or_after_expiry_is_422(create, act, counts):
    a = await create(expires_on="2027-12-31")
    before = await counts()
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    future = await act(a["id"], "sign", EDITOR, {"signed_on": tomorrow})
    assert future.status_code == 422
    assert future.json()["errors"][0]["field"] == "signed_on"
    assert await counts() == before


async def test_stale_if_match_on_an_action_is_412_and_writes_nothing(create, act, counts):
    a = await create()
    before = await counts()
    response = await act(a["id"], "submit", EDITOR, None, **{"If-Match": '"9"'})
    assert response.status_code == 412
    assert response.json()["type"] == problem("stale-etag")
    assert await counts() == before
    ok = await act(a["id"], "submit", EDITOR, None, **{"If-Match": '"1"'})
    assert ok.status_code == 200


async def test_actions_by_others_are_refused(create, act, counts):
    a = await create()
    before = await counts()
    other = await act(a["id"], "sign", ("moi", "editor"), {"signed_on": "2024-01-10"})
    assert other.status_code == 403
    assert other.json()["type"] == problem("not-owner-editor")
    viewer = await act(a["id"], "submit", ("qfsw", "viewer"))
    assert viewer.status_code == 403
    assert viewer.json()["type"] == problem("role-not-allowed")
    missing = await act("00000000-0000-4000-8000-000000000000", "submit", EDITOR)
    assert missing.status_code == 404
    assert missing.json()["type"] == problem("agreement-not-found")
    assert await counts() == before


async def test_terminate_records_when_and_why_and_closes(client, as_, create, act, outbox):
    a = await create()
    await act(a["id"], "sign", EDITOR, {"signed_on": "2024-01-10"})
    terminated = await act(
        a["id"], "terminate", EDITOR, {"reason": "Programme ended", "terminated_on": "2024-06-01"}
    )
    assert terminated.status_code == 200, terminated.text
    assert terminated.json()["termination"] == {
        "terminated_on": "2024-06-01",
        "reason": "Programme ended",
    }
    assert terminated.json()["allowed_actions"] == []
    closed = await client.patch(
        f"/v1/agreements/{a['id']}",
        json={"title": {"en": "x"}},
        headers={**as_(*EDITOR), "If-Match": '"3"'},
    )
    assert closed.status_code == 409
    assert closed.json()["type"] == problem("agreement-closed")
    assert verbs(await outbox(a["id"])) == ["created", "signed", "terminated"]


async def test_expire_before_the_date_is_409(create, act, counts):
    a = await create()
    await act(a["id"], "sign", EDITOR, {"signed_on": "2024-01-10"})
    before = await counts()
    response = await act(a["id"], "expire", EDITOR)
    assert response.status_code == 409
    assert response.json()["type"] == problem("not-yet-expired")
    assert response.json()["current_status"] == "signed"
    assert await counts() == before


async def test_expire_after_the_date(create, act):
    a = await create(effective_from="2020-01-01", expires_on="2020-12-31")
    await act(a["id"], "sign", EDITOR, {"signed_on": "2019-12-20"})
    expired = await act(a["id"], "expire", EDITOR)
    assert expired.status_code == 200, expired.text
    assert expired.json()["status"] == "expired"
    assert expired.json()["allowed_actions"] == ["renew"]


async def test_renewal_creates_a_successor_that_supersedes(
    client, as_, create, act, outbox, counts
):
    a = await create()
    await act(a["id"], "sign", EDITOR, {"signed_on": "2024-01-10"})
    await act(a["id"], "enter-into-force", EDITOR)
    renewed = await act(
        a["id"], "renew", EDITOR, {"effective_from": "2028-01-01", "expires_on": "2031-12-31"}
    )
    assert renewed.status_code == 201, renewed.text
    successor = renewed.json()
    assert renewed.headers["location"] == f"/v1/agreements/{successor['id']}"
    assert successor["supersedes"] == a["id"]
    assert successor["status"] == "draft"
    assert (successor["effective_from"], successor["expires_on"]) == ("2028-01-01", "2031-12-31")
    assert successor["parties"] == a["parties"]
    assert successor["funding"] == a["funding"]
    assert successor["signed_on"] is None
    predecessor = (await client.get(f"/v1/agreements/{a['id']}", headers=as_(*EDITOR))).json()
    assert predecessor["superseded_by"] == successor["id"]
    assert predecessor["status"] == "in_force"
    assert verbs(await outbox(a["id"]))[-1] == "renewed"
    [created] = await outbox(successor["id"])
    assert created["type"] == "tansiq.agreements.agreement.created.v1"
    assert created["supersedes"] == a["id"]
    listed = await client.get(f"/v1/agreements?supersedes={a['id']}", headers=as_(*EDITOR))
    assert [x["id"] for x in listed.json()["items"]] == [successor["id"]]

    before = await counts()
    again = await act(a["id"], "renew", EDITOR, {})
    assert again.status_code == 409
    assert again.json()["type"] == problem("already-renewed")
    assert again.json()["superseded_by"] == successor["id"]
    assert await counts() == before
    draft_renewal = await act(successor["id"], "renew", EDITOR, {})
    assert draft_renewal.status_code == 409
    assert draft_renewal.json()["type"] == problem("illegal-transition")
