"""GET /v1/audit: who may read it, filters, pagination; and no API changes an audit row."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from tansiq_common.auth import Principal, apply_organization_event
from tansiq_common.schema import audit_log
from tansiq_common.uow import UnitOfWork

from .test_directory import HIERARCHY


async def _write(db, principal: Principal, action: str, entity_id: str, fields) -> None:
    async with UnitOfWork(db.sessionmaker, actor=principal) as uow:
        uow.audit(action, "agreement", entity_id, fields)


@pytest.fixture
async def trail(infra_db):
    amal = Principal("amal", "moe", frozenset({"editor"}))
    omar = Principal("omar", "icd", frozenset({"coordinator", "viewer"}))
    await _write(infra_db, amal, "created", "a-1", ["title", "parties"])
    await _write(infra_db, amal, "updated", "a-1", {"title": {"old": "x", "new": "y"}})
    await _write(infra_db, omar, "cleared", "a-1", ["status", "clearance"])
    await _write(infra_db, amal, "created", "a-2", ["title"])
    async with infra_db.sessionmaker() as session, session.begin():
        for event in HIERARCHY:  # icd is a coordinating body, moe is not
            await apply_organization_event(session, event)
    return infra_db


@pytest.mark.parametrize("roles", [["auditor"], ["coordinator"]])
async def test_auditors_and_coordinators_read_the_trail(client, trail, auth_headers, roles):
    response = await client.get("/v1/audit", headers=auth_headers("icd", roles))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["actor_sub"], i["action"], i["entity_id"]) for i in items] == [
        ("amal", "created", "a-1"),
        ("amal", "updated", "a-1"),
        ("omar", "cleared", "a-1"),
        ("amal", "created", "a-2"),
    ]
    first = items[0]
    assert first["actor_org"] == "moe"
    assert first["actor_roles"] == ["editor"]
    assert first["entity_type"] == "agreement"
    assert first["changed_fields"] == ["title", "parties"]
    assert set(first) == {
        "id",
        "occurred_at",
        "actor_sub",
        "actor_org",
        "actor_roles",
        "action",
        "entity_type",
        "entity_id",
        "request_id",
        "changed_fields",
    }


@pytest.mark.parametrize("roles", [["viewer"], ["editor"], ["registry_admin"], ["integration"]])
async def test_other_roles_may_not(client, trail, auth_headers, roles):
    response = await client.get("/v1/audit", headers=auth_headers("icd", roles))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:tansiq:problem:role-not-allowed"


@pytest.mark.parametrize("org", ["moe", "ghost"])
async def test_coordinator_role_outside_a_coordinating_body_may_not(
    client, trail, auth_headers, org
):
    # moe is no coordinating body; ghost is unknown to the registry.
    response = await client.get("/v1/audit", headers=auth_headers(org, ["coordinator"]))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:tansiq:problem:audit-forbidden"


async def test_filters(client, trail, auth_headers):
    headers = auth_headers("icd", ["auditor"])
    by_entity = await client.get("/v1/audit", params={"entity_id": "a-2"}, headers=headers)
    assert [i["action"] for i in by_entity.json()["items"]] == ["created"]
    by_actor = await client.get(
        "/v1/audit", params={"actor_sub": "amal", "action": "created"}, headers=headers
    )
    assert [i["entity_id"] for i in by_actor.json()["items"]] == ["a-1", "a-2"]
    by_type = await client.get("/v1/audit", params={"entity_type": "organization"}, headers=headers)
    assert by_type.json()["items"] == []
    by_type = await client.get("/v1/audit", params={"entity_type": "agreement"}, headers=headers)
    assert len(by_type.json()["items"]) == 4


# One entry on the first of each month: every bound of `from` (inclusive) and `to` (exclusive)
# falls between two entries or on one, so ignoring either filter changes the answer.
MONTHS = [datetime(2025, month, 1, tzinfo=UTC) for month in (1, 2, 3, 4)]


@pytest.fixture
async def dated_trail(infra_db):
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.insert(audit_log),
            [
                {
                    "occurred_at": at,
                    "actor_sub": "amal",
                    "actor_org": "moe",
                    "actor_roles": ["editor"],
                    "action": "updated",
                    "entity_type": "agreement",
                    "entity_id": f"month-{at.month}",
                    "changed_fields": ["title"],
                }
                for at in MONTHS
            ],
        )
    async with infra_db.sessionmaker() as session, session.begin():
        for event in HIERARCHY:
            await apply_organization_event(session, event)
    return infra_db


@pytest.mark.parametrize(
    ("params", "months"),
    [
        ({}, [1, 2, 3, 4]),
        ({"from": "2025-02-01T00:00:00Z"}, [2, 3, 4]),  # from is inclusive
        ({"from": "2025-02-01T00:00:00.000001Z"}, [3, 4]),
        ({"from": "2025-02-01T03:00:00+03:00"}, [2, 3, 4]),  # the same instant, another zone
        ({"from": "2025-04-01T00:00:01Z"}, []),
        ({"to": "2025-03-01T00:00:00Z"}, [1, 2]),  # to is exclusive
        ({"to": "2025-03-01T00:00:00.000001Z"}, [1, 2, 3]),
        ({"to": "2025-01-01T00:00:00Z"}, []),
        ({"from": "2025-02-01T00:00:00Z", "to": "2025-04-01T00:00:00Z"}, [2, 3]),
        ({"from": "2025-01-15T00:00:00Z", "to": "2025-03-15T00:00:00Z"}, [2, 3]),
        ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-01T00:00:00Z"}, []),
    ],
)
async def test_from_and_to_bound_the_trail_exactly(
    client, dated_trail, auth_headers, params, months
):
    response = await client.get(
        "/v1/audit", params=params, headers=auth_headers("icd", ["auditor"])
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["entity_id"] for i in items] == [f"month-{m}" for m in months]
    assert [datetime.fromisoformat(i["occurred_at"]) for i in items] == [
        MONTHS[m - 1] for m in months
    ]


async def test_from_after_to_is_400(client, dated_trail, auth_headers):
    inverted = await client.get(
        "/v1/audit",
        params={"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
        headers=auth_headers("icd", ["auditor"]),
    )
    assert inverted.status_code == 400
    assert inverted.json()["type"] == "urn:tansiq:problem:invalid-range"


async def test_pages_walk_the_whole_trail_once(client, trail, auth_headers):
    headers = auth_headers("icd", ["auditor"])
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/audit", params=params, headers=headers)).json()
        assert len(page["items"]) <= 3
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    everything = (await client.get("/v1/audit", headers=headers)).json()["items"]
    assert len(everything) == 4
    assert seen == [i["id"] for i in everything]
    assert seen == sorted(seen)  # oldest first: ids grow with every entry
    bad = await client.get("/v1/audit", params={"cursor": "garbage!"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:tansiq:problem:invalid-cursor"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_no_api_writes_the_trail(client, trail, auth_headers, method):
    headers = auth_headers("icd", ["auditor", "coordinator", "registry_admin", "editor"])
    response = await client.request(method, "/v1/audit", headers=headers, json={})
    assert response.status_code == 405


async def test_the_table_refuses_updates_and_deletes(trail):
    async with trail.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await conn.execute(sa.update(audit_log).values(action="forged"))
        await conn.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await conn.execute(sa.delete(audit_log))


def test_the_audit_route_is_documented_with_bearer_security(client):
    app: FastAPI = client._transport.app
    operation = app.openapi()["paths"]["/v1/audit"]["get"]
    assert operation["security"] == [{"bearer": []}]
    assert {p["name"] for p in operation["parameters"]} >= {
        "entity_type",
        "from",
        "to",
        "cursor",
        "limit",
    }
