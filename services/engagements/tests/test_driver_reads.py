"""The reads on the driver's connection (engagements.queries) answer what the aggregate path
answers: each row's JSON state is `Engagement.snapshot()` of the aggregate loaded from it, key for
key and in order; the visibility rule written as SQL text keeps exactly the rows
`tansiq_common.auth.visible_to` keeps; hidden and missing records are the same 404."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.codec import to_json
from tansiq_common.pagination import encode_cursor
from tansiq_engagements.engagements import queries
from tansiq_engagements.engagements.model import (
    ActionItemNotFound,
    EngagementNotFound,
    ReportNotFound,
)
from tansiq_engagements.engagements.repository import MAPPER, visibility_clause
from tansiq_engagements.engagements.tables import engagements

from .conftest import (
    AGREEMENT,
    DIC,
    EMB_GB,
    ICD,
    MLAE,
    MOFAE,
    MOI,
    MSDF,
    PROBLEM,
    QFSW,
    UNESCO,
    UNOCT,
    WIFAQ,
    _id,
    engagement_body,
)

GLOBAL_AUDITOR = Principal(sub="auditor", org=_id("nowhere"), roles=frozenset({"auditor"}))


async def _post(client, headers, **overrides) -> dict[str, Any]:
    response = await client.post(
        "/v1/engagements", json=engagement_body(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _aggregate_states(app) -> dict[str, dict[str, Any]]:
    """Every engagement as the aggregate path gives it: SQLAlchemy's row, the aggregate built
    from it, its snapshot."""
    async with app.state.read_engine.connect() as connection:
        rows = await connection.execute(sa.select(engagements))
        return {str(row.id): MAPPER.from_row(row).snapshot() for row in rows}


async def _access(app, principal: Principal) -> queries.ReadAccess:
    scope: OrgScope = await app.state.organization_directory.scope_of(principal.org)
    return queries.ReadAccess(app.state.reads, principal, scope)


async def _world(client, as_editor, sql) -> dict[str, str]:
    """Engagements with everything a state holds, and one row as an older writer left it."""
    editor = as_editor(QFSW)
    training = await _post(
        client,
        editor,
        kind="training",
        title={"en": "Training of nationals"},
        end=None,
        location={"city": None, "country": None, "virtual": True},
        participants=[{"org_id": UNOCT.id, "role": "organizer"}],
        attendees={"total": 25, "nationals": 25, "nationals_trained": 25},
        agreement_ids=[],
        themes={"sdgs": [16], "sectors": [], "priorities": ["NDS2-IC-1"]},
        channel="via_coordinating_body",
        coordinating_body_notified_at="2024-04-20T10:00:00+03:00",
        report_due_on=None,
        outcome=None,
    )
    forum = await _post(
        client,
        editor,
        related_engagement_ids=[training["id"]],
        themes={"sdgs": [5, 4, 17], "sectors": ["social-development"], "priorities": ["p-1"]},
    )
    path = f"/v1/engagements/{forum['id']}"
    filed = await client.put(
        f"{path}/report",
        json={
            "text": "تقرير الملتقى: اتفق المشاركون على المتابعة.",
            "attachments": [
                {
                    "name": "minutes.pdf",
                    "media_type": "application/pdf",
                    "size_bytes": 52311,
                    "uri": "https://docs.example.gov.qa/minutes.pdf",
                    "sha256": "a" * 64,
                },
                {"name": "photo.jpg", "media_type": "image/jpeg"},
            ],
        },
        headers=editor,
    )
    assert filed.status_code == 201, filed.text
    for n, item in enumerate(
        (
            {"title": "Send the minutes", "owner_org_id": UNESCO.id, "due_on": "2025-04-01"},
            {"title": "Plan the follow-up", "owner_org_id": QFSW.id, "status": "done"},
        ),
        start=2,
    ):
        added = await client.post(
            f"{path}/action-items", json=item, headers={**editor, "If-Match": f'"{n}"'}
        )
        assert added.status_code == 201, added.text
    restricted = await _post(
        client,
        as_editor(WIFAQ),
        lead_org_id=WIFAQ.id,
        visibility="restricted",
        related_engagement_ids=[forum["id"], training["id"]],
        participants=[
            {"org_id": WIFAQ.id, "role": "host"},
            {"org_id": DIC.id, "role": "participant"},
        ],
    )
    # A row as an older writer left it: JSON objects lacking the fields added since (their
    # defaults apply), a set of countries out of order and repeated, times in other spellings.
    older = str(uuid.uuid4())
    await sql.execute(
        """INSERT INTO engagements (id, kind, title, start, "end", location, lead_org_id,
        lead_ministry_id, lead_country, participants, attendees, agreement_ids,
        related_engagement_ids, themes, channel, status, visibility, outcome, report,
        action_items, countries, source, party_org_ids, search_text, version, created_at,
        updated_at)
        VALUES ($1, 'meeting', '{"en": "Older"}', '2023-01-02T03:04:05Z', NULL, '{}', $2, $3,
        'QA', $4, '{"total": 3}', '{}', '{}', '{"sdgs": [3]}', 'unknown', 'reported',
        'interagency', NULL, $5, $6, '{QA,GB,QA}', 'manual', $7, 'older', 4, now(), now())""",
        older,
        QFSW.id,
        MSDF.id,
        json.dumps([{"org_id": EMB_GB.id, "role": "participant"}]),
        json.dumps(
            {"text": "Old report", "submitted_by": "someone", "submitted_at": "2023-01-03T10:00Z"}
        ),
        json.dumps(
            [
                {
                    "id": "a-old",
                    "title": "Older item",
                    "owner_org_id": QFSW.id,
                    "status": "open",
                    "created_at": "2023-01-03T10:00:00+03:00",
                    "updated_at": "2023-01-03T10:00:00+03:00",
                }
            ]
        ),
        [QFSW.id, EMB_GB.id],
    )
    return {
        "training": training["id"],
        "forum": forum["id"],
        "restricted": restricted["id"],
        "older": older,
    }


async def test_the_driver_state_is_the_aggregates_snapshot_key_for_key(
    client, as_editor, sql, engagements_app
):
    ids = await _world(client, as_editor, sql)
    access = await _access(engagements_app, GLOBAL_AUDITOR)
    expected = await _aggregate_states(engagements_app)
    assert set(expected) == set(ids.values())
    # The world holds what it is meant to: a report with attachments, action items, links.
    forum = expected[ids["forum"]]
    assert [a["name"] for a in forum["report"]["attachments"]] == ["minutes.pdf", "photo.jpg"]
    assert [i["title"] for i in forum["action_items"]] == ["Send the minutes", "Plan the follow-up"]
    assert forum["agreement_ids"] == [AGREEMENT]
    assert forum["related_engagement_ids"] == [ids["training"]]
    assert expected[ids["restricted"]]["related_engagement_ids"] == [ids["forum"], ids["training"]]
    older = expected[ids["older"]]
    assert older["countries"] == ["GB", "QA"]
    assert older["attendees"] == {"total": 3, "nationals": 0, "nationals_trained": 0}
    assert older["report"]["attachments"] == []
    assert older["action_items"][0]["due_on"] is None

    for engagement_id, state in expected.items():
        got = await queries.engagement_state(access, engagement_id)
        # Equal as JSON text: the same keys, values and order.
        assert json.dumps(got) == json.dumps(state), engagement_id
        assert await queries.action_item_states(access, engagement_id) == (state["action_items"])
        for item in state["action_items"]:
            assert await queries.action_item_state(access, engagement_id, item["id"]) == {
                **item,
                "version": state["version"],
            }
        if state["report"] is not None:
            assert await queries.report_state(access, engagement_id) == {
                **state["report"],
                "version": state["version"],
            }
    # The list gives the same states, in creation order.
    page, cursor = await queries.engagement_states(
        access, queries.EngagementFilter(), limit=10, cursor=None
    )
    assert cursor is None
    order = ("training", "forum", "restricted", "older")
    assert [e["id"] for e in page] == [ids[name] for name in order]
    assert json.dumps(page) == json.dumps([expected[e["id"]] for e in page])
    # Over HTTP, the same body and its version as the ETag.
    response = await client.get(
        f"/v1/engagements/{ids['forum']}", headers=as_editor(QFSW, "viewer")
    )
    assert response.json() == forum
    assert response.headers["etag"] == f'"{forum["version"]}"' == '"4"'


async def test_the_row_state_equals_the_generic_path_for_rows_of_every_shape(
    client, as_editor, sql, engagements_app
):
    """`MAPPER.state_from_row` against `to_json(from_row(row))` on asyncpg's own records."""
    await _world(client, as_editor, sql)
    async with engagements_app.state.reads.connection() as connection:
        rows = await connection.fetch("SELECT * FROM engagements")
    assert len(rows) == 4
    for row in rows:
        assert json.dumps(MAPPER.state_from_row(row)) == json.dumps(to_json(MAPPER.from_row(row)))


# Callers of every kind the visibility rule tells apart.
CALLERS = {
    "viewer of the lead's ministry": (WIFAQ, "viewer"),
    "viewer of the ministry itself": (MSDF, "viewer"),
    "participant": (DIC, "viewer"),
    "viewer of another ministry": (MOI, "viewer"),
    "coordinator of the coordinating body": (ICD, "coordinator"),
    "coordinator outside a coordinating body": (MOI, "coordinator"),
    "another country's coordinator": (MOFAE, "coordinator"),
    "auditor of the country": (MOI, "auditor"),
    "another country's auditor": (MLAE, "auditor"),
    "international partner": (UNESCO, "viewer"),
}


async def test_the_visibility_rule_as_sql_keeps_what_visible_to_keeps(
    client, as_editor, sql, engagements_app
):
    ids = await _world(client, as_editor, sql)
    syrian = await _post(
        client,
        as_editor(DIC),
        lead_org_id=DIC.id,
        visibility="restricted",
        participants=[{"org_id": DIC.id, "role": "host"}],
        agreement_ids=[],
    )
    every = {*ids.values(), syrian["id"]}
    interagency = {ids["training"], ids["forum"], ids["older"]}
    principals = {
        who: Principal(sub=who, org=org.id, roles=frozenset({role}))
        for who, (org, role) in CALLERS.items()
    }
    principals["unknown organization"] = Principal("x", _id("nowhere"), frozenset({"viewer"}))
    principals["global auditor"] = GLOBAL_AUDITOR
    seen: dict[str, set[str]] = {}
    for who, principal in principals.items():
        access = await _access(engagements_app, principal)
        async with engagements_app.state.read_engine.connect() as connection:
            rows = await connection.execute(
                sa.select(engagements.c.id).where(visibility_clause(access.scope, principal))
            )
            reference = {str(row.id) for row in rows}
        page, _ = await queries.engagement_states(
            access, queries.EngagementFilter(), limit=50, cursor=None
        )
        seen[who] = {e["id"] for e in page}
        assert seen[who] == reference, who
        for engagement_id in every:
            if engagement_id in reference:
                state = await queries.engagement_state(access, engagement_id)
                assert state["id"] == engagement_id
            else:
                with pytest.raises(EngagementNotFound):
                    await queries.engagement_state(access, engagement_id)
                with pytest.raises(EngagementNotFound):
                    await queries.report_state(access, engagement_id)
                with pytest.raises(EngagementNotFound):
                    await queries.action_item_states(access, engagement_id)
    # The rule the reference applies, spelled out for the callers that tell its clauses apart.
    assert seen["viewer of the lead's ministry"] == interagency | {ids["restricted"]}
    assert seen["participant"] == every
    assert seen["viewer of another ministry"] == interagency
    assert seen["coordinator outside a coordinating body"] == interagency
    assert seen["coordinator of the coordinating body"] == interagency | {ids["restricted"]}
    assert seen["another country's coordinator"] == interagency | {syrian["id"], ids["restricted"]}
    assert seen["another country's auditor"] == interagency | {syrian["id"], ids["restricted"]}
    assert seen["international partner"] == interagency
    assert seen["unknown organization"] == interagency
    assert seen["global auditor"] == every


async def test_hidden_and_missing_are_the_same_404_on_every_read(
    client, as_editor, sql, auth_headers
):
    ids = await _world(client, as_editor, sql)
    outsider = auth_headers(MOI.id, ["viewer"])
    hidden, missing = ids["restricted"], str(uuid.uuid4())
    for suffix in ("", "/report", "/action-items", "/action-items/a-old"):
        answers, headers = {}, {}
        for engagement_id in (hidden, missing, "not-a-uuid"):
            response = await client.get(
                f"/v1/engagements/{engagement_id}{suffix}", headers=outsider
            )
            assert response.status_code == 404, (suffix, engagement_id)
            body = response.json()
            assert body["type"] == PROBLEM + "engagement-not-found"
            assert body["detail"] == f"No engagement {engagement_id}."
            # What names the request or the id asked for aside, the answers are one.
            answers[engagement_id] = {
                k: v for k, v in body.items() if k not in ("detail", "instance", "request_id")
            }
            headers[engagement_id] = {k for k in response.headers if k != "content-length"}
        assert answers[hidden] == answers[missing] == answers["not-a-uuid"], suffix
        assert set(answers[hidden]) == {"type", "title", "status"}, suffix
        assert headers[hidden] == headers[missing] == headers["not-a-uuid"], suffix
        assert "etag" not in headers[hidden], suffix


async def test_reports_and_action_items_read_with_their_etag_and_own_404(
    client, as_editor, sql, engagements_app
):
    ids = await _world(client, as_editor, sql)
    viewer = as_editor(MOI, "viewer")
    forum = f"/v1/engagements/{ids['forum']}"
    report = await client.get(f"{forum}/report", headers=viewer)
    assert report.status_code == 200
    assert report.headers["etag"] == '"4"'
    assert report.json()["submitted_by_org"] == QFSW.id
    items = await client.get(f"{forum}/action-items", headers=viewer)
    assert items.headers.get("etag") is None
    listed = items.json()
    assert [i["title"] for i in listed["items"]] == ["Send the minutes", "Plan the follow-up"]
    assert listed["next_cursor"] is None
    first = listed["items"][0]
    one = await client.get(f"{forum}/action-items/{first['id']}", headers=viewer)
    assert one.json() == first
    assert one.headers["etag"] == '"4"'
    none = await client.get(f"/v1/engagements/{ids['training']}/report", headers=viewer)
    assert none.status_code == 404
    assert none.json()["type"] == PROBLEM + "report-not-found"
    assert none.json()["detail"] == f"Engagement {ids['training']} has no report yet."
    unknown_item = await client.get(f"{forum}/action-items/nothing", headers=viewer)
    assert unknown_item.status_code == 404
    assert unknown_item.json()["type"] == PROBLEM + "action-item-not-found"
    assert unknown_item.json()["detail"] == f"No action item nothing on engagement {ids['forum']}."
    access = await _access(engagements_app, GLOBAL_AUDITOR)
    with pytest.raises(ReportNotFound):
        await queries.report_state(access, ids["training"])
    with pytest.raises(ActionItemNotFound):
        await queries.action_item_state(access, ids["training"], "a-old")


async def test_pages_follow_the_cursor_within_the_filters_and_the_visibility_rule(
    client, as_editor, sql
):
    ids = await _world(client, as_editor, sql)
    more = [
        (await _post(client, as_editor(QFSW), title={"en": f"Forum {n}"}))["id"] for n in range(3)
    ]
    reader = as_editor(MOI, "viewer")  # does not see the restricted one
    params: dict[str, Any] = {"limit": 2, "kind": "conference", "sdg": 4}
    pages = []
    while True:
        response = await client.get("/v1/engagements", params=params, headers=reader)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([e["id"] for e in body["items"]])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert pages == [[ids["forum"], more[0]], [more[1], more[2]]]
    # Search over titles, outcomes and reports, within the same rule.
    found = await client.get(
        "/v1/engagements", params={"q": "تقرير الملتقي", "limit": 1}, headers=reader
    )
    assert [e["id"] for e in found.json()["items"]] == [ids["forum"]]
    assert found.json()["next_cursor"] is None
    # Cursors this API did not issue: an id that is no UUID, a time that is no time.
    for forged in (
        encode_cursor([datetime(2025, 1, 1, tzinfo=UTC), "not-a-uuid"]),
        encode_cursor(["yesterday", str(uuid.uuid4())]),
        encode_cursor([datetime(2025, 1, 1, tzinfo=UTC)]),
    ):
        bad = await client.get("/v1/engagements", params={"cursor": forged}, headers=reader)
        assert bad.status_code == 400, forged
        assert bad.json()["type"] == PROBLEM + "invalid-cursor"
