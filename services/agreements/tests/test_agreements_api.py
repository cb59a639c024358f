"""Creating, reading and changing agreements against the real database: derived fields, events,
audit, and every refusal answered as problem+json with nothing written."""

from __future__ import annotations

import json

import pytest
from tansiq_agreements.agreements.schemas import AgreementState

PROBLEM = "application/problem+json"


def problem(slug: str) -> str:
    return f"urn:tansiq:problem:{slug}"


async def test_create_then_get_with_derived_fields_event_history_and_audit(
    client, world, as_, body, sql, outbox
):
    response = await client.post("/v1/agreements", json=body(), headers=as_("qfsw", "editor"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/agreements/{created['id']}"
    assert response.headers["etag"] == '"1"'
    assert created["status"] == "draft"
    assert created["version"] == 1
    assert created["owner_org_id"] == world["qfsw"]
    # The foundation's ministry is the one that supervises it: reporting groups by it.
    assert created["owner_ministry_id"] == world["msdf"]
    assert created["owner_country"] == "QA"
    assert created["countries"] == ["QA"]  # UNESCO has no country
    assert created["parties"] == [
        {"org_id": world["qfsw"], "role": "signatory"},
        {"org_id": world["unesco"], "role": "signatory"},
    ]
    assert created["themes"] == {
        "sdgs": [4, 5],
        "sectors": ["education"],
        "priorities": ["NDS2-IC-1"],
    }
    assert created["funding"] == [
        {"funder_org_id": world["unesco"], "amount": "250000.00", "currency": "USD"}
    ]
    assert created["clearance"] is None
    assert created["cleared"] is False
    assert created["signed_uncleared"] is False
    assert created["supersedes"] is None
    assert created["allowed_actions"] == ["submit", "sign", "terminate"]

    fetched = await client.get(f"/v1/agreements/{created['id']}", headers=as_("moi", "viewer"))
    assert fetched.status_code == 200
    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'

    [event] = await outbox(created["id"])
    assert event["type"] == "tansiq.agreements.agreement.created.v1"
    assert event["topic"] == "agreements.agreement.v1"
    # The payload is the full state, exactly as the API shows it, in the documented shape.
    payload = {k: v for k, v in event.items() if k not in ("type", "topic")}
    assert payload == {k: v for k, v in created.items() if k != "allowed_actions"}
    AgreementState.model_validate(payload)
    audit = await sql.fetch("select action, entity_id, actor_sub from audit_log")
    assert [tuple(r) for r in audit] == [("agreement.created", created["id"], "qfsw-editor")]
    history = await client.get(
        f"/v1/agreements/{created['id']}/history", headers=as_("moi", "viewer")
    )
    assert history.status_code == 200
    [entry] = history.json()["items"]
    assert entry["version"] == 1
    assert entry["event"] == "created"
    assert entry["actor"] == {"sub": "qfsw-editor", "org_id": world["qfsw"]}
    assert "parties" in entry["changed_fields"]


async def test_ministry_editor_writes_for_the_foundation_below_it(client, world, as_, body):
    response = await client.post("/v1/agreements", json=body(), headers=as_("msdf", "editor"))
    assert response.status_code == 201, response.text


async def test_editor_of_another_organization_and_viewers_may_not_create(
    client, world, as_, body, counts
):
    before = await counts()
    other = await client.post("/v1/agreements", json=body(), headers=as_("moi", "editor"))
    assert other.status_code == 403
    assert other.headers["content-type"] == PROBLEM
    assert other.json()["type"] == problem("not-owner-editor")
    viewer = await client.post("/v1/agreements", json=body(), headers=as_("qfsw", "viewer"))
    assert viewer.status_code == 403
    assert viewer.json()["type"] == problem("role-not-allowed")
    # A centre below the foundation does not write for the foundation.
    below = await client.post("/v1/agreements", json=body(), headers=as_("wifaq", "editor"))
    assert below.status_code == 403
    assert below.json()["type"] == problem("not-owner-editor")
    assert await counts() == before


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


BAD_INPUTS = [
    # (name, change to the body, status, problem slug, field named first)
    ("expiry-before-effect", {"effective_from": "2025-01-01", "expires_on": "2024-12-31"},
     422, "validation-error", "expires_on"),
    ("one-party", {"parties": "ONE"}, 422, "validation-error", "parties"),
    ("duplicate-party", {"parties": "DUP"}, 422, "duplicate-party", "parties.1.org_id"),
    ("unknown-party", {"parties": "UNKNOWN"}, 422, "unknown-organization", "parties.1.org_id"),
    ("archived-party", {"parties": "ARCHIVED"}, 422, "organization-archived", "parties.1.org_id"),
    ("owner-not-national", {"owner_org_id": "unesco"}, 422, "owner-not-national", "owner_org_id"),
    ("amount-zero", {"funding": [("unesco", "0.00", "USD")]}, 422, "validation-error",
     "funding.0.amount"),
    ("amount-negative", {"funding": [("unesco", "-5", "USD")]}, 422, "validation-error",
     "funding.0.amount"),
    ("amount-float", {"funding": [("unesco", 12.5, "USD")]}, 422, "validation-error",
     "funding.0.amount"),
    ("amount-too-precise", {"funding": [("unesco", "1.00001", "USD")]}, 422, "validation-error",
     "funding.0.amount"),
    ("unknown-currency", {"funding": [("unesco", "10", "ZZZ")]}, 422, "validation-error",
     "funding.0.currency"),
    ("funder-not-party", {"funding": [("embassy_gb", "10", "USD")]}, 422, "validation-error",
     "funding.0.funder_org_id"),
    ("sdg-out-of-range", {"themes": {"sdgs": [18]}}, 422, "validation-error", "themes.sdgs.0"),
    ("sdg-zero", {"themes": {"sdgs": [0]}}, 422, "validation-error", "themes.sdgs.0"),
    ("bad-sector-code", {"themes": {"sectors": ["two words"]}}, 422, "validation-error",
     "themes.sectors.0"),
    ("no-title", {"title": {}}, 422, "validation-error", "title"),
    ("unknown-kind", {"kind": "treaty"}, 422, "validation-error", "kind"),
    ("server-owned-field", {"status": "signed"}, 422, "validation-error", "status"),
    ("bad-date", {"expires_on": "31/12/2027"}, 422, "validation-error", "expires_on"),
]  # fmt: skip


def _apply(world, body: dict, change: dict) -> dict:
    out = dict(body)
    for key, value in change.items():
        if key == "parties":
            first = {"org_id": world["qfsw"], "role": "signatory"}
            out["parties"] = {
                "ONE": [first],
                "DUP": [first, {"org_id": world["qfsw"], "role": "funder"}],
                "UNKNOWN": [first, {"org_id": _uuid(), "role": "funder"}],
                "ARCHIVED": [first, {"org_id": world["archived"], "role": "funder"}],
            }[value]
            out["funding"] = []
        elif key == "funding":
            out["funding"] = [
                {"funder_org_id": world[f], "amount": a, "currency": c} for f, a, c in value
            ]
        elif key == "owner_org_id":
            out["owner_org_id"] = world[value]
        else:
            out[key] = value
    return out


@pytest.mark.parametrize(
    ("change", "status", "slug", "field"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_is_problem_json_and_writes_nothing(
    client, world, as_, body, counts, change, status, slug, field
):
    before = await counts()
    sent = _apply(world, body(), change)
    # An editor of UNESCO writes for UNESCO, but UNESCO cannot own an agreement.
    editor = as_("unesco", "editor") if "owner_org_id" in change else as_("qfsw", "editor")
    response = await client.post("/v1/agreements", json=sent, headers=editor)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem_body = response.json()
    assert problem_body["type"] == problem(slug)
    assert problem_body["errors"][0]["field"] == field
    assert await counts() == before


async def test_malformed_json_is_400(client, as_, counts):
    before = await counts()
    response = await client.post(
        "/v1/agreements",
        content=b'{"kind": ',
        headers={**as_("qfsw", "editor"), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == problem("malformed-json")
    assert await counts() == before


async def test_a_party_only_the_registry_knows_is_found_through_its_api(
    client, world, as_, body, sql
):
    # UNICEF never reached the agreements service's replica: the registry itself answers.
    assert (
        await sql.fetchval(
            "select count(*) from organization_directory where id = $1", world["unicef"]
        )
        == 0
    )
    parties = [
        {"org_id": world["qfsw"], "role": "signatory"},
        {"org_id": world["unicef"].upper(), "role": "implementer"},
    ]
    response = await client.post(
        "/v1/agreements", json=body(parties=parties, funding=[]), headers=as_("qfsw", "editor")
    )
    assert response.status_code == 201, response.text
    assert response.json()["parties"][1] == {"org_id": world["unicef"], "role": "implementer"}


@pytest.fixture
def registry_down(app):
    """The registry stops answering: its address now names a port nobody listens on."""
    from tansiq_agreements.agreements.organizations import organization_lookup
    from tansiq_common.testing.processes import free_port

    working = app.state.organization_lookup
    app.state.organization_lookup = organization_lookup(
        f"http://127.0.0.1:{free_port()}", timeout_s=0.5
    )
    yield
    app.state.organization_lookup = working


async def test_registry_down_on_a_replica_miss_is_503_never_a_silent_accept(
    client, world, as_, body, counts, registry_down
):
    before = await counts()
    parties = [
        {"org_id": world["qfsw"], "role": "signatory"},
        {"org_id": world["unicef"], "role": "implementer"},
    ]
    response = await client.post(
        "/v1/agreements", json=body(parties=parties, funding=[]), headers=as_("qfsw", "editor")
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == problem("reference-unavailable")
    assert await counts() == before
    # Parties the replica has need no registry at all.
    ok = await client.post("/v1/agreements", json=body(), headers=as_("qfsw", "editor"))
    assert ok.status_code == 201, ok.text


async def test_patch_needs_if_match_refuses_stale_and_records_the_change(
    client, world, as_, create, counts, outbox, sql
):
    created = await create()
    url = f"/v1/agreements/{created['id']}"
    editor = as_("qfsw", "editor")
    before = await counts()
    missing = await client.patch(url, json={"title": {"en": "New"}}, headers=editor)
    assert missing.status_code == 428
    assert missing.json()["type"] == problem("if-match-required")
    stale = await client.patch(
        url, json={"title": {"en": "New"}}, headers={**editor, "If-Match": '"7"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == problem("stale-etag")
    assert await counts() == before

    changed = await client.patch(
        url,
        json={"title": {"en": "Inclusive education"}, "themes": {"sdgs": [4]}},
        headers={**editor, "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["title"] == {"ar": "اتفاقية تعاون", "en": "Inclusive education"}
    assert changed.json()["themes"] == {"sdgs": [4], "sectors": [], "priorities": []}
    events = await outbox(created["id"])
    assert [e["type"].split(".")[-2] for e in events] == ["created", "updated"]
    assert events[1]["version"] == 2
    audit = await sql.fetchrow(
        "select action, changed_fields from audit_log where action = 'agreement.updated'"
    )
    assert audit["action"] == "agreement.updated"
    assert json.loads(audit["changed_fields"]) == ["themes", "title"]

    # the same again changes nothing: no version, no event
    same = await client.patch(
        url, json={"title": {"en": "Inclusive education"}}, headers={**editor, "If-Match": '"2"'}
    )
    assert same.status_code == 200
    assert same.headers["etag"] == '"2"'
    assert len(await outbox(created["id"])) == 2

    not_json = await client.patch(
        url, content=b"title=x", headers={**editor, "If-Match": '"2"', "content-type": "text/plain"}
    )
    assert not_json.status_code == 415


async def test_substance_is_locked_once_submitted(client, as_, create, counts):
    created = await create()
    editor = as_("qfsw", "editor")
    submitted = await client.post(f"/v1/agreements/{created['id']}/actions/submit", headers=editor)
    assert submitted.status_code == 200, submitted.text
    before = await counts()
    locked = await client.patch(
        f"/v1/agreements/{created['id']}",
        json={"expires_on": "2030-12-31"},
        headers={**editor, "If-Match": '"2"'},
    )
    assert locked.status_code == 409
    assert locked.json()["type"] == problem("agreement-locked")
    assert locked.json()["current_status"] == "submitted"
    assert await counts() == before


async def test_patch_by_an_editor_of_another_ministry_is_refused(client, as_, create, counts):
    created = await create()
    before = await counts()
    response = await client.patch(
        f"/v1/agreements/{created['id']}",
        json={"title": {"en": "Mine now"}},
        headers={**as_("moi", "editor"), "If-Match": '"1"'},
    )
    assert response.status_code == 403
    assert response.json()["type"] == problem("not-owner-editor")
    assert await counts() == before


async def test_moving_ownership_to_an_organization_the_editor_does_not_write_for_is_refused(
    client, world, as_, create, counts
):
    created = await create(editor=("msdf", "editor"))
    before = await counts()
    response = await client.patch(
        f"/v1/agreements/{created['id']}",
        json={
            "owner_org_id": world["moi"],
            "parties": [
                {"org_id": world["moi"], "role": "signatory"},
                {"org_id": world["unesco"], "role": "signatory"},
            ],
        },
        headers={**as_("msdf", "editor"), "If-Match": '"1"'},
    )
    assert response.status_code == 403
    assert response.json()["type"] == problem("not-owner-editor")
    assert await counts() == before


async def test_idempotency_key_replays_the_first_create(client, as_, body, sql):
    headers = {**as_("qfsw", "editor"), "Idempotency-Key": "create-1"}
    first = await client.post("/v1/agreements", json=body(), headers=headers)
    again = await client.post("/v1/agreements", json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert await sql.fetchval("select count(*) from agreements") == 1
    other = await client.post("/v1/agreements", json=body(kind="mou"), headers=headers)
    assert other.status_code == 422


async def test_a_caller_who_may_not_write_for_the_owner_makes_no_registry_call(
    client, world, as_, body, counts, registry_down
):
    """Refused before any lookup: even with the registry down, the answer is 403, not 503."""
    before = await counts()
    parties = [
        {"org_id": world["qfsw"], "role": "signatory"},
        {"org_id": world["unicef"], "role": "implementer"},
    ]
    response = await client.post(
        "/v1/agreements", json=body(parties=parties, funding=[]), headers=as_("moi", "editor")
    )
    assert response.status_code == 403
    assert response.json()["type"] == problem("not-owner-editor")
    assert await counts() == before
