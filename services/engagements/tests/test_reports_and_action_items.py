"""The report (institutional memory) and the action items of an engagement over HTTP."""

from __future__ import annotations

from .conftest import MOI, PROBLEM, QFSW, UNESCO, WIFAQ, _id, engagement_body, outbox


async def _created(client, as_editor, **overrides):
    response = await client.post(
        "/v1/engagements", json=engagement_body(**overrides), headers=as_editor(QFSW)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_report_is_filed_then_replaced_with_if_match(client, as_editor, sql):
    engagement = await _created(client, as_editor)
    path = f"/v1/engagements/{engagement['id']}/report"
    editor = as_editor(QFSW, sub="rapporteur")
    assert (await client.get(path, headers=editor)).json()["type"] == PROBLEM + "report-not-found"
    body = {
        "text": "تقرير الملتقى: اتفق المشاركون على متابعة التعاون مع السفارات.",
        "attachments": [
            {
                "name": "minutes.pdf",
                "media_type": "application/pdf",
                "size_bytes": 52311,
                "uri": "https://docs.example.gov.qa/minutes.pdf",
                "sha256": "a" * 64,
            }
        ],
    }
    filed = await client.put(path, json=body, headers=editor)
    assert filed.status_code == 201, filed.text
    assert filed.headers["etag"] == '"2"'
    report = filed.json()
    assert report["text"] == body["text"]
    assert report["attachments"] == body["attachments"]
    assert report["submitted_by"] == "rapporteur"
    assert report["submitted_by_org"] == QFSW.id
    full = (await client.get(f"/v1/engagements/{engagement['id']}", headers=editor)).json()
    assert full["status"] == "reported"
    assert full["report"] == report
    # Found by the bilingual search over reports.
    found = await client.get("/v1/engagements", params={"q": "تقرير الملتقي"}, headers=editor)
    assert [e["id"] for e in found.json()["items"]] == [engagement["id"]]

    replaced_blind = await client.put(path, json={"text": "v2"}, headers=editor)
    assert replaced_blind.status_code == 428
    stale = await client.put(path, json={"text": "v2"}, headers={**editor, "If-Match": '"1"'})
    assert stale.status_code == 412
    replaced = await client.put(path, json={"text": "v2"}, headers={**editor, "If-Match": '"2"'})
    assert replaced.status_code == 200
    assert replaced.json()["attachments"] == []
    assert replaced.headers["etag"] == '"3"'
    same = await client.put(path, json={"text": "v2"}, headers={**editor, "If-Match": '"3"'})
    assert same.status_code == 200
    assert same.headers["etag"] == '"3"'
    assert (await client.get(path, headers=editor)).json()["text"] == "v2"
    assert [e["type"].split(".")[-2] for e in await outbox(sql)] == [
        "created", "reported", "report_revised",
    ]  # fmt: skip


async def test_only_a_held_engagement_is_reported_on_by_its_lead(client, as_editor, sql):
    planned = await _created(client, as_editor, status="planned")
    path = f"/v1/engagements/{planned['id']}/report"
    refused = await client.put(path, json={"text": "r"}, headers=as_editor(QFSW))
    assert refused.status_code == 409
    assert refused.json()["type"] == PROBLEM + "status-conflict"
    held = await _created(client, as_editor)
    other = await client.put(
        f"/v1/engagements/{held['id']}/report", json={"text": "r"}, headers=as_editor(MOI)
    )
    assert other.status_code == 403
    assert other.json()["type"] == PROBLEM + "organization-scope"
    empty = await client.put(
        f"/v1/engagements/{held['id']}/report", json={"text": ""}, headers=as_editor(QFSW)
    )
    assert empty.status_code == 422
    missing = await client.put(
        f"/v1/engagements/{_id('none')}/report", json={"text": "r"}, headers=as_editor(QFSW)
    )
    assert missing.status_code == 404
    assert await sql.fetchval("SELECT count(*) FROM engagements WHERE report IS NOT NULL") == 0


async def test_action_items_are_added_listed_and_followed_up(client, as_editor, sql):
    engagement = await _created(client, as_editor)
    base = f"/v1/engagements/{engagement['id']}/action-items"
    lead = as_editor(QFSW)
    added = await client.post(
        base,
        json={
            "title": "Joint programme with UNESCO",
            "owner_org_id": WIFAQ.id,
            "due_on": "2025-06-30",
        },
        headers=lead,
    )
    assert added.status_code == 201, added.text
    item = added.json()
    assert added.headers["location"] == f"{base}/{item['id']}"
    assert added.headers["etag"] == '"2"'
    assert (item["title"], item["owner_org_id"], item["due_on"], item["status"]) == (
        "Joint programme with UNESCO", WIFAQ.id, "2025-06-30", "open",
    )  # fmt: skip
    listed = await client.get(base, headers=lead)
    assert listed.json() == {"items": [item], "next_cursor": None}
    assert (await client.get(f"{base}/{item['id']}", headers=lead)).json() == item
    assert (await client.get(f"{base}/{_id('x')}", headers=lead)).json()["type"] == (
        PROBLEM + "action-item-not-found"
    )

    # The owner organization's editors move its status; nothing else.
    owner = as_editor(WIFAQ, sub="wifaq-editor")
    moved = await client.patch(
        f"{base}/{item['id']}", json={"status": "in_progress"}, headers={**owner, "If-Match": '"2"'}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "in_progress"
    assert moved.headers["etag"] == '"3"'
    retitled = await client.patch(
        f"{base}/{item['id']}", json={"title": "x"}, headers={**owner, "If-Match": '"3"'}
    )
    assert retitled.status_code == 403
    stranger = await client.patch(
        f"{base}/{item['id']}",
        json={"status": "done"},
        headers={**as_editor(MOI), "If-Match": '"3"'},
    )
    assert stranger.status_code == 403
    no_precondition = await client.patch(
        f"{base}/{item['id']}", json={"status": "done"}, headers=lead
    )
    assert no_precondition.status_code == 428
    done = await client.patch(
        f"{base}/{item['id']}",
        json={"status": "done", "owner_org_id": UNESCO.id},
        headers={**lead, "If-Match": '"3"'},
    )
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["owner_org_id"]) == ("done", UNESCO.id)

    bad_owner = await client.post(
        base, json={"title": "t", "owner_org_id": _id("nobody")}, headers=lead
    )
    assert bad_owner.status_code == 422
    assert bad_owner.json()["type"] == PROBLEM + "unknown-organization"
    events = await outbox(sql)
    assert [e["type"].split(".")[-2] for e in events] == [
        "created", "action_item_added", "action_item_updated", "action_item_updated",
    ]  # fmt: skip
    assert events[-1]["payload"]["action_items"] == [
        {**item, "status": "done", "owner_org_id": UNESCO.id,
         "updated_at": events[-1]["payload"]["action_items"][0]["updated_at"]}
    ]  # fmt: skip
    audit = await sql.fetch("SELECT action, actor_sub FROM audit_log ORDER BY id")
    assert [tuple(r) for r in audit] == [
        ("engagement.created", "editor-1"),
        ("engagement.action_item_added", "editor-1"),
        ("engagement.action_item_updated", "wifaq-editor"),
        ("engagement.action_item_updated", "editor-1"),
    ]
