"""Engagements over HTTP: create, read, list and search, update with preconditions, the
access rules, and bad input answered with the exact problem and nothing written."""

from __future__ import annotations

import pytest

from .conftest import (
    AGREEMENT,
    DIC,
    EMB_GB,
    ICD,
    MOFAE,
    MOI,
    MSDF,
    OLD,
    PROBLEM,
    QFSW,
    UNESCO,
    UNOCT,
    WIFAQ,
    _id,
    engagement_body,
    outbox,
)


async def test_create_answers_201_with_location_etag_and_the_derived_fields(client, as_editor, sql):
    response = await client.post("/v1/engagements", json=engagement_body(), headers=as_editor(QFSW))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/engagements/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["version"] == 1
    assert body["lead_ministry_id"] == MSDF.id
    assert body["lead_country"] == "QA"
    assert body["countries"] == ["GB", "QA"]
    assert body["status"] == "held"
    assert body["source"] == "manual"
    assert body["external_id"] is None
    assert body["start"] == "2025-03-10T06:00:00+00:00"
    assert body["report"] is None
    assert body["action_items"] == []
    events = await outbox(sql)
    assert [(e["type"], e["id"], e["topic"]) for e in events] == [
        ("tansiq.engagements.engagement.created.v1", body["id"], "engagements.engagement.v1")
    ]
    assert events[0]["payload"] == body
    audit = await sql.fetch("SELECT action, entity_id, actor_sub FROM audit_log")
    assert [tuple(r) for r in audit] == [("engagement.created", body["id"], "editor-1")]

    fetched = await client.get(f"/v1/engagements/{body['id']}", headers=as_editor(QFSW, "viewer"))
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == '"1"'


async def test_an_editor_writes_for_their_organization_and_those_below_it(client, as_editor, sql):
    # MSDF's editor may record the foundation's centre's meeting; the centre's may not record
    # the ministry's, nor may another ministry's editor.
    below = await client.post(
        "/v1/engagements", json=engagement_body(lead_org_id=WIFAQ.id), headers=as_editor(MSDF)
    )
    assert below.status_code == 201, below.text
    for lead, caller in ((MSDF, WIFAQ), (QFSW, MOI), (QFSW, ICD)):
        refused = await client.post(
            "/v1/engagements", json=engagement_body(lead_org_id=lead.id), headers=as_editor(caller)
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == PROBLEM + "organization-scope"
    # A viewer or a coordinator may not write at all.
    for roles in (("viewer",), ("coordinator",), ("integration",)):
        refused = await client.post(
            "/v1/engagements", json=engagement_body(), headers=as_editor(QFSW, *roles)
        )
        assert refused.status_code == 403
        assert refused.json()["type"] == PROBLEM + "role-not-allowed"
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        pytest.param(
            {"end": "2025-03-10T08:59:59+03:00"}, "invalid-dates", "end", id="end-before-start"
        ),
        pytest.param({"report_due_on": "2025-03-09"}, "invalid-dates", "report_due_on", id="report-due-before-start"),
        pytest.param({"start": "1900-01-01T00:00:00+00:00", "end": None}, "invalid-dates", "start", id="start-in-1900"),
        pytest.param({"lead_org_id": _id("nobody")}, "unknown-organization", "lead_org_id", id="unknown-lead"),
        pytest.param({"lead_org_id": "not-a-uuid"}, "unknown-organization", "lead_org_id", id="lead-not-a-uuid"),
        pytest.param({"lead_org_id": UNESCO.id}, "organization-scope", None, id="international-lead-outside-scope"),
        pytest.param(
            {"participants": [{"org_id": _id("nobody"), "role": "host"}]},
            "unknown-organization", "participants", id="unknown-participant",
        ),
        pytest.param(
            {"participants": [{"org_id": OLD.id, "role": "observer"}]},
            "unknown-organization", "participants", id="archived-participant",
        ),
        pytest.param(
            {
                "participants": [
                    {"org_id": UNESCO.id, "role": "host"},
                    {"org_id": UNESCO.id.upper(), "role": "participant"},
                ]
            },
            "duplicate-participant", "participants", id="participant-listed-twice",
        ),
        pytest.param(
            {"attendees": {"total": 10, "nationals": 11, "nationals_trained": 0}},
            "invalid-attendees", "attendees.nationals", id="more-nationals-than-attendees",
        ),
        pytest.param(
            {"attendees": {"total": 10, "nationals": 5, "nationals_trained": 6}},
            "invalid-attendees", "attendees.nationals_trained", id="more-trained-than-nationals",
        ),
        pytest.param({"agreement_ids": [_id("no-agreement")]}, "unknown-agreement", "agreement_ids", id="unknown-agreement"),
        pytest.param({"related_engagement_ids": [_id("no-engagement")]}, "unknown-engagement", "related_engagement_ids", id="unknown-related"),
        pytest.param({"location": {"country": "XX"}}, "validation-error", "location.country", id="unknown-country"),
        pytest.param({"title": {"ar": None, "en": " "}}, "validation-error", "title", id="no-title"),
        pytest.param({"title": {"en": "a\x00b"}}, "validation-error", "title.en", id="nul-in-title"),
        pytest.param({"status": "reported"}, "validation-error", "status", id="reported-without-report"),
        pytest.param({"source": "calendar"}, "invalid-source", "external_id", id="source-without-external-id"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_problem_and_writes_nothing(
    client, as_editor, sql, change, problem, field
):
    response = await client.post(
        "/v1/engagements", json=engagement_body(**change), headers=as_editor(QFSW)
    )
    assert response.headers["content-type"] == "application/problem+json", response.text
    body = response.json()
    assert body["type"] == PROBLEM + problem, body
    assert response.status_code == (403 if problem == "organization-scope" else 422)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 0
    assert await sql.fetchval("SELECT count(*) FROM outbox") == 0
    assert await sql.fetchval("SELECT count(*) FROM audit_log") == 0


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"start": "2025-03-10T09:00:00"}, id="naive-time"),
        pytest.param({"attendees": {"total": -1}}, id="negative-count"),
        pytest.param({"themes": {"sdgs": [18]}}, id="sdg-18"),
        pytest.param({"kind": "party"}, id="unknown-kind"),
        pytest.param({"id": _id("x")}, id="server-owned-field"),
        pytest.param({"participants": [{"org_id": UNESCO.id, "role": "chair"}]}, id="unknown-role"),
    ],
)
async def test_schema_errors_are_422_validation_errors(client, as_editor, sql, change):
    response = await client.post(
        "/v1/engagements", json=engagement_body(**change), headers=as_editor(QFSW)
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"] == PROBLEM + "validation-error"
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 0


async def test_invalid_json_is_400(client, as_editor):
    response = await client.post(
        "/v1/engagements",
        content=b'{"kind": "meeting",',
        headers={**as_editor(QFSW), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM + "malformed-json"


async def test_restricted_engagements_are_seen_only_by_those_concerned(
    client, as_editor, auth_headers
):
    created = await client.post(
        "/v1/engagements",
        json=engagement_body(visibility="restricted"),
        headers=as_editor(QFSW),
    )
    engagement_id = created.json()["id"]
    path = f"/v1/engagements/{engagement_id}"
    allowed = {
        "same ministry": auth_headers(WIFAQ.id, ["viewer"]),
        "participant": auth_headers(UNESCO.id, ["viewer"]),
        "coordinator of the coordinating body": auth_headers(ICD.id, ["coordinator"]),
        "auditor of the country": auth_headers(MOI.id, ["auditor"]),
        "global auditor": auth_headers(_id("nowhere"), ["auditor"]),
    }
    refused = {
        "another ministry": auth_headers(MOI.id, ["viewer"]),
        "a coordinator outside a coordinating body": auth_headers(MOI.id, ["coordinator"]),
        "another country's coordinator": auth_headers(MOFAE.id, ["coordinator"]),
        "another country's auditor": auth_headers(DIC.id, ["auditor"]),
    }
    for who, headers in allowed.items():
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, who
        listed = await client.get("/v1/engagements", headers=headers)
        assert [e["id"] for e in listed.json()["items"]] == [engagement_id], who
    for who, headers in refused.items():
        response = await client.get(path, headers=headers)
        assert response.status_code == 404, who
        assert response.json()["type"] == PROBLEM + "engagement-not-found"
        assert (await client.get("/v1/engagements", headers=headers)).json()["items"] == [], who
        assert (await client.get(f"{path}/report", headers=headers)).status_code == 404, who
        assert (await client.get(f"{path}/action-items", headers=headers)).status_code == 404, who


async def test_list_filters_search_and_pages(client, as_editor):
    editor = as_editor(MSDF)
    forum = await client.post("/v1/engagements", json=engagement_body(), headers=editor)
    training = await client.post(
        "/v1/engagements",
        json=engagement_body(
            kind="training",
            title={"en": "Training of nationals on results-based evaluation"},
            lead_org_id=WIFAQ.id,
            start="2024-05-01T08:00:00+03:00",
            end="2024-05-03T15:00:00+03:00",
            report_due_on=None,
            participants=[{"org_id": UNOCT.id, "role": "organizer"}],
            attendees={"total": 25, "nationals": 25, "nationals_trained": 25},
            agreement_ids=[],
            themes={"sdgs": [16], "sectors": [], "priorities": ["NDS2-IC-1"]},
            channel="via_coordinating_body",
            coordinating_body_notified_at="2024-04-20T10:00:00+03:00",
            outcome=None,
        ),
        headers=editor,
    )
    assert training.status_code == 201, training.text
    forum_id, training_id = forum.json()["id"], training.json()["id"]
    reader = as_editor(MOI, "viewer")

    async def ids(**params):
        response = await client.get("/v1/engagements", params=params, headers=reader)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["items"]]

    assert await ids() == [forum_id, training_id]
    assert await ids(kind="training") == [training_id]
    assert await ids(channel="direct") == [forum_id]
    assert await ids(lead_org_id=WIFAQ.id) == [training_id]
    assert await ids(ministry_id=MSDF.id) == [forum_id, training_id]
    assert await ids(org_id=UNOCT.id) == [training_id]
    assert await ids(org_id=EMB_GB.id) == [forum_id]
    assert await ids(org_id="not-an-id") == []
    assert await ids(agreement_id=AGREEMENT) == [forum_id]
    assert await ids(sdg=4) == [forum_id]
    assert await ids(priority="NDS2-IC-1") == [training_id]
    assert await ids(sector="social-development") == [forum_id]
    assert await ids(country="gb") == [forum_id]
    assert await ids(start_from="2025-01-01T00:00:00Z") == [forum_id]
    assert await ids(start_before="2025-01-01T00:00:00Z") == [training_id]
    assert await ids(status="held", source="manual") == [forum_id, training_id]
    # Bilingual search: diacritics, hamza forms and taa marbuta ignored; English case-folded;
    # outcomes searched too; LIKE wildcards match themselves.
    assert await ids(q="مُلْتَقَى السفارات") == [forum_id]
    assert await ids(q="ملتقي") == [forum_id]
    assert await ids(q="TRAINING evaluation") == [training_id]
    assert await ids(q="تعاون العمل") == [forum_id]
    assert await ids(q="%") == []
    # Pages of one, in creation order, with an opaque cursor.
    first = await client.get("/v1/engagements", params={"limit": 1}, headers=reader)
    page = first.json()
    assert [e["id"] for e in page["items"]] == [forum_id]
    second = await client.get(
        "/v1/engagements", params={"limit": 1, "cursor": page["next_cursor"]}, headers=reader
    )
    assert [e["id"] for e in second.json()["items"]] == [training_id]
    assert second.json()["next_cursor"] is None
    bad = await client.get("/v1/engagements", params={"cursor": "x"}, headers=reader)
    assert bad.status_code == 400
    assert bad.json()["type"] == PROBLEM + "invalid-cursor"
    far = await client.get(
        "/v1/engagements", params={"start_from": "0001-01-01T00:00:00+05:00"}, headers=reader
    )
    assert far.status_code == 422


async def test_update_needs_if_match_and_records_what_changed(client, as_editor, sql):
    created = (
        await client.post(
            "/v1/engagements", json=engagement_body(status="planned"), headers=as_editor(QFSW)
        )
    ).json()
    path = f"/v1/engagements/{created['id']}"
    editor = as_editor(QFSW)
    missing = await client.patch(path, json={"status": "held"}, headers=editor)
    assert missing.status_code == 428
    assert missing.json()["type"] == PROBLEM + "if-match-required"
    stale = await client.patch(path, json={"status": "held"}, headers={**editor, "If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["type"] == PROBLEM + "stale-etag"
    held = await client.patch(
        path,
        json={"status": "held", "attendees": {"total": 90, "nationals": 31}},
        headers={**editor, "If-Match": '"1"'},
    )
    assert held.status_code == 200, held.text
    assert held.headers["etag"] == '"2"'
    assert held.json()["attendees"] == {"total": 90, "nationals": 31, "nationals_trained": 0}
    # The same change again changes nothing: no new version, no event.
    again = await client.patch(path, json={"status": "held"}, headers={**editor, "If-Match": '"2"'})
    assert again.status_code == 200
    assert again.json()["version"] == 2
    # Held is final (but for the report); merge-patching the title keeps the other language.
    back = await client.patch(
        path, json={"status": "planned"}, headers={**editor, "If-Match": '"2"'}
    )
    assert back.status_code == 409
    assert back.json()["type"] == PROBLEM + "status-conflict"
    renamed = await client.patch(
        path, json={"title": {"en": "Forum of embassies"}}, headers={**editor, "If-Match": '"2"'}
    )
    assert renamed.json()["title"] == {
        "ar": "ملتقى السفارات للعمل الاجتماعي",
        "en": "Forum of embassies",
    }
    # Moving the lead out of the editor's scope is refused, as is an editor of another body.
    moved = await client.patch(
        path, json={"lead_org_id": MOI.id}, headers={**editor, "If-Match": '"3"'}
    )
    assert moved.status_code == 403
    other = await client.patch(
        path, json={"outcome": "x"}, headers={**as_editor(MOI), "If-Match": '"3"'}
    )
    assert other.status_code == 403
    assert other.json()["type"] == PROBLEM + "organization-scope"
    text = await client.patch(
        path,
        content=b"status=held",
        headers={**editor, "If-Match": '"3"', "content-type": "text/plain"},
    )
    assert text.status_code == 415
    events = await outbox(sql)
    assert [e["type"].split(".")[-2] for e in events] == ["created", "held", "updated"]
    assert [e["payload"]["version"] for e in events] == [1, 2, 3]
    audit = await sql.fetch("SELECT action, changed_fields FROM audit_log ORDER BY id")
    assert [r["action"] for r in audit] == [
        "engagement.created", "engagement.held", "engagement.updated",
    ]  # fmt: skip


async def test_a_cancelled_engagement_may_be_planned_again(client, as_editor):
    created = (
        await client.post(
            "/v1/engagements", json=engagement_body(status="cancelled"), headers=as_editor(QFSW)
        )
    ).json()
    path = f"/v1/engagements/{created['id']}"
    replanned = await client.patch(
        path, json={"status": "planned"}, headers={**as_editor(QFSW), "If-Match": '"1"'}
    )
    assert replanned.status_code == 200
    assert replanned.json()["status"] == "planned"


async def test_related_engagements_record_coordination(client, as_editor):
    ours = (
        await client.post("/v1/engagements", json=engagement_body(), headers=as_editor(QFSW))
    ).json()
    theirs = await client.post(
        "/v1/engagements",
        json=engagement_body(
            lead_org_id=MOI.id, related_engagement_ids=[ours["id"]], agreement_ids=[]
        ),
        headers=as_editor(MOI),
    )
    assert theirs.status_code == 201, theirs.text
    assert theirs.json()["related_engagement_ids"] == [ours["id"]]
    itself = await client.patch(
        f"/v1/engagements/{ours['id']}",
        json={"related_engagement_ids": [ours["id"]]},
        headers={**as_editor(QFSW), "If-Match": '"1"'},
    )
    assert itself.status_code == 422


async def test_a_hidden_engagement_cannot_be_linked(client, as_editor):
    hidden = (
        await client.post(
            "/v1/engagements",
            json=engagement_body(visibility="restricted"),
            headers=as_editor(QFSW),
        )
    ).json()
    response = await client.post(
        "/v1/engagements",
        json=engagement_body(
            lead_org_id=MOI.id, related_engagement_ids=[hidden["id"]], agreement_ids=[]
        ),
        headers=as_editor(MOI),
    )
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEM + "unknown-engagement"


async def test_duplicate_source_key_is_a_conflict_naming_the_existing_engagement(client, as_editor):
    body = engagement_body(source="correspondence", external_id="LTR-2025-001")
    first = await client.post("/v1/engagements", json=body, headers=as_editor(QFSW))
    assert first.status_code == 201
    second = await client.post("/v1/engagements", json=body, headers=as_editor(QFSW))
    assert second.status_code == 409
    assert second.json()["type"] == PROBLEM + "duplicate-external-id"
    assert second.json()["existing_id"] == first.json()["id"]


async def test_a_replica_miss_is_asked_of_the_owner_with_the_callers_token(
    client, as_editor, owners, sql
):
    new_partner = _id("new-partner")
    new_agreement = _id("new-agreement")
    owners.organizations[new_partner] = {
        "id": new_partner, "kind": "un_entity", "scope": "international", "country": "FR",
        "ministry_id": None, "status": "active",
    }  # fmt: skip
    owners.agreements[new_agreement] = {"id": new_agreement, "status": "draft"}
    headers = as_editor(QFSW)
    response = await client.post(
        "/v1/engagements",
        json=engagement_body(
            participants=[{"org_id": new_partner, "role": "participant"}],
            agreement_ids=[AGREEMENT, new_agreement],
        ),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["countries"] == ["FR", "QA"]
    assert sorted(owners.calls) == [
        (f"/v1/agreements/{new_agreement}", headers["Authorization"]),
        (f"/v1/organizations/{new_partner}", headers["Authorization"]),
    ]
    # An owner that does not answer: 503 with Retry-After, nothing accepted unchecked.
    owners.down = True
    response = await client.post(
        "/v1/engagements",
        json=engagement_body(participants=[{"org_id": _id("another"), "role": "observer"}]),
        headers=headers,
    )
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == PROBLEM + "reference-unavailable"
    assert await sql.fetchval("SELECT count(*) FROM engagements") == 1
