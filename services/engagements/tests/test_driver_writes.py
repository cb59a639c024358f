"""The API's writes run on the driver: a request's unit of work takes one connection from the
writes' pool, and none from the engine (an SQLAlchemy session would), whatever the write, its
outcome, and the lookups and checks it makes on the way (tansiq_common.uow)."""

from __future__ import annotations

from .conftest import AGREEMENT, MOI, PROBLEM, QFSW, UNESCO, engagement_body


def _on_driver(taken: dict[str, int]) -> None:
    assert taken == {"engine": 0, "write_pool": 1}
    taken["write_pool"] = 0


async def test_every_write_route_runs_on_one_driver_connection(
    client, as_editor, auth_headers, sql, connections
):
    editor = as_editor(QFSW)
    # A create names organizations, an agreement and another engagement (the replicas and the
    # engagements read in its transaction), and a source key (the duplicate check).
    other = await client.post("/v1/engagements", json=engagement_body(), headers=editor)
    assert other.status_code == 201, other.text
    _on_driver(connections)
    body = engagement_body(
        source="calendar", external_id="cal-7", related_engagement_ids=[other.json()["id"]]
    )
    created = await client.post("/v1/engagements", json=body, headers=editor)
    assert created.status_code == 201, created.text
    _on_driver(connections)
    engagement = created.json()
    assert engagement["agreement_ids"] == [AGREEMENT]
    assert engagement["related_engagement_ids"] == [other.json()["id"]]
    path = f"/v1/engagements/{engagement['id']}"

    patched = await client.patch(
        path,
        json={"outcome": "A joint work plan", "participants": [{"org_id": QFSW.id}]},
        headers={**editor, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    _on_driver(connections)
    reported = await client.put(f"{path}/report", json={"text": "Agreed."}, headers=editor)
    assert reported.status_code == 201, reported.text
    _on_driver(connections)
    added = await client.post(
        f"{path}/action-items",
        json={"title": "Share the findings", "owner_org_id": UNESCO.id},
        headers=editor,
    )
    assert added.status_code == 201, added.text
    _on_driver(connections)
    item = added.json()
    revised = await client.patch(
        f"{path}/action-items/{item['id']}",
        json={"status": "done"},
        headers={**editor, "If-Match": added.headers["etag"]},
    )
    assert revised.status_code == 200, revised.text
    _on_driver(connections)

    # Each write committed with its events and audit entries, in that one transaction.
    events = await sql.fetch(
        "SELECT type FROM outbox WHERE aggregateid = $1 ORDER BY seq", engagement["id"]
    )
    audits = await sql.fetch(
        "SELECT action FROM audit_log WHERE entity_id = $1 ORDER BY id", engagement["id"]
    )
    assert [r["action"] for r in audits] == [
        "engagement.created",
        "engagement.updated",
        "engagement.reported",
        "engagement.action_item_added",
        "engagement.action_item_updated",
    ]
    assert [r["type"] for r in events] == [
        f"tansiq.engagements.engagement.{name}.v1"
        for name in ("created", "updated", "reported", "action_item_added", "action_item_updated")
    ]
    assert (
        await sql.fetchval("SELECT version FROM engagements WHERE id = $1", engagement["id"])
    ) == 5


async def test_refused_writes_roll_back_on_the_driver(client, as_editor, sql, connections):
    editor = as_editor(QFSW)
    body = engagement_body(source="calendar", external_id="cal-8", visibility="restricted")
    first = await client.post("/v1/engagements", json=body, headers=editor)
    assert first.status_code == 201, first.text
    _on_driver(connections)
    path = f"/v1/engagements/{first.json()['id']}"

    again = await client.post("/v1/engagements", json=body, headers=editor)
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEM + "duplicate-external-id"
    assert again.json()["existing_id"] == first.json()["id"]
    _on_driver(connections)
    # Another ministry's editor does not see the restricted engagement: missing, not forbidden.
    hidden = await client.patch(
        path,
        json={"outcome": "Not theirs"},
        headers={**as_editor(MOI), "If-Match": '"1"'},
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"] == PROBLEM + "engagement-not-found"
    _on_driver(connections)
    stale = await client.patch(
        path,
        json={"outcome": "Late"},
        headers={**editor, "If-Match": '"7"'},
    )
    assert stale.status_code == 412
    _on_driver(connections)
    row = await sql.fetchrow(
        "SELECT version, outcome FROM engagements WHERE id = $1", first.json()["id"]
    )
    assert (row["version"], row["outcome"]) == (1, body["outcome"])
    assert await sql.fetchval("SELECT count(*) FROM audit_log") == 1
