"""Milestones and obligations: /v1/agreements/{id}/milestones."""

from __future__ import annotations

from datetime import UTC, datetime

EDITOR = ("qfsw", "editor")


def problem(slug: str) -> str:
    return f"urn:tansiq:problem:{slug}"


async def test_milestones_added_listed_changed_with_events(
    client, world, as_, create, outbox, counts
):
    a = await create()
    url = f"/v1/agreements/{a['id']}/milestones"
    editor = as_(*EDITOR)
    later = await client.post(
        url,
        json={
            "title": "Annual report",
            "due_on": "2025-12-31",
            "responsible_org_id": world["qfsw"],
        },
        headers=editor,
    )
    assert later.status_code == 201, later.text
    assert later.headers["etag"] == '"2"'  # the agreement's version
    report = later.json()
    assert later.headers["location"] == f"{url}/{report['id']}"
    assert report == {
        "id": report["id"],
        "title": "Annual report",
        "due_on": "2025-12-31",
        "responsible_org_id": world["qfsw"],
        "status": "pending",
        "completed_on": None,
    }
    sooner = await client.post(
        url,
        json={
            "title": "Joint workshop",
            "due_on": "2025-06-01",
            "responsible_org_id": world["unesco"].upper(),
            "status": "in_progress",
        },
        headers={**editor, "If-Match": '"2"'},
    )
    assert sooner.status_code == 201, sooner.text
    listed = await client.get(url, headers=as_("moi", "viewer"))
    assert [m["title"] for m in listed.json()["items"]] == ["Joint workshop", "Annual report"]
    assert listed.json()["next_cursor"] is None
    one = await client.get(f"{url}/{report['id'].upper()}", headers=as_("moi", "viewer"))
    assert one.status_code == 200
    assert one.json()["title"] == "Annual report"

    before = await counts()
    no_etag = await client.patch(f"{url}/{report['id']}", json={"status": "done"}, headers=editor)
    assert no_etag.status_code == 428
    stale = await client.patch(
        f"{url}/{report['id']}", json={"status": "done"}, headers={**editor, "If-Match": '"2"'}
    )
    assert stale.status_code == 412
    assert await counts() == before
    done = await client.patch(
        f"{url}/{report['id']}", json={"status": "done"}, headers={**editor, "If-Match": '"3"'}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done"
    assert done.json()["completed_on"] == datetime.now(UTC).date().isoformat()
    assert done.headers["etag"] == '"4"'

    events = await outbox(a["id"])
    assert [e["type"].split(".")[-2] for e in events] == [
        "created",
        "milestone-added",
        "milestone-added",
        "milestone-updated",
    ]
    assert [m["status"] for m in events[-1]["milestones"]] == ["done", "in_progress"]
    history = await client.get(f"/v1/agreements/{a['id']}/history", headers=editor)
    assert history.json()["items"][-1]["details"] == {
        "milestone_id": report["id"],
        "changed": ["status", "completed_on"],
    }


async def test_milestone_refusals_write_nothing(client, world, as_, create, counts):
    a = await create()
    url = f"/v1/agreements/{a['id']}/milestones"
    before = await counts()
    not_a_party = await client.post(
        url,
        json={"title": "t", "due_on": "2025-01-01", "responsible_org_id": world["undp"]},
        headers=as_(*EDITOR),
    )
    assert not_a_party.status_code == 422
    assert not_a_party.json()["errors"][0]["field"] == "responsible_org_id"
    for bad in ({"title": "t"}, {"title": "", "due_on": "2025-01-01", "responsible_org_id": "x"},
                {"title": "t", "due_on": "2025-01-01", "responsible_org_id": world["qfsw"],
                 "status": "late"}):  # fmt: skip
        response = await client.post(url, json=bad, headers=as_(*EDITOR))
        assert response.status_code == 422, bad
    other = await client.post(
        url,
        json={"title": "t", "due_on": "2025-01-01", "responsible_org_id": world["qfsw"]},
        headers=as_("moi", "editor"),
    )
    assert other.status_code == 403
    assert other.json()["type"] == problem("not-owner-editor")
    missing = await client.get(f"{url}/00000000-0000-4000-8000-000000000000", headers=as_(*EDITOR))
    assert missing.status_code == 404
    assert missing.json()["type"] == problem("milestone-not-found")
    assert await counts() == before
