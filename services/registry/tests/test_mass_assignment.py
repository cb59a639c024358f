"""Mass assignment against the registry's own request schemas (OrganizationCreate,
OrganizationPatch, ContactIn), through the API: a field the server owns is refused with a 422
naming it, and nothing is written."""

from __future__ import annotations

import pytest

# Fields of an organization that the registry sets, never a client.
SERVER_OWNED = {
    "id": "00000000-0000-4000-8000-000000000001",
    "version": 7,
    "scope": "national",
    "ministry_id": "00000000-0000-4000-8000-000000000002",
    "status": "archived",
    "created_at": "2020-01-01T00:00:00Z",
    "updated_at": "2020-01-01T00:00:00Z",
    "source_key": "forged",
}
NEW = {"kind": "directorate", "names": {"en": "Planning"}, "country": "QA"}
CONTACT = {"name": "Fatima Al-Kuwari", "email": "f.kuwari@example.qa"}


def assert_refused(response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:tansiq:problem:validation-error"
    assert [(e["field"], e["type"]) for e in problem["errors"]] == [(field, "extra_forbidden")]


@pytest.mark.parametrize("field", sorted(SERVER_OWNED))
async def test_creating_an_organization_with_a_server_owned_field_is_422(client, admin, sql, field):
    response = await client.post(
        "/v1/organizations", json={**NEW, field: SERVER_OWNED[field]}, headers=admin
    )
    assert_refused(response, field)
    assert await sql.fetchval("select count(*) from organizations") == 0
    assert await sql.fetchval("select count(*) from outbox") == 0


@pytest.mark.parametrize("field", sorted(SERVER_OWNED))
async def test_patching_a_server_owned_field_is_422(client, admin, create, sql, field):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"acronym": "MOI", field: SERVER_OWNED[field]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert_refused(response, field)
    row = await sql.fetchrow(
        "select version, acronym, status, scope from organizations where id = $1", org["id"]
    )
    assert dict(row) == {"version": 1, "acronym": None, "status": "active", "scope": "national"}


async def test_nested_objects_refuse_unknown_members_too(client, admin, create):
    names = await client.post(
        "/v1/organizations",
        json={**NEW, "names": {"en": "Planning", "fr": "Planification"}},
        headers=admin,
    )
    assert_refused(names, "names.fr")
    parent = await create(en="Ministry of Planning")
    line = await client.post(
        "/v1/organizations",
        json={
            **NEW,
            "reporting_lines": [{"org_id": parent["id"], "line": "technical", "weight": 2}],
        },
        headers=admin,
    )
    assert_refused(line, "reporting_lines.0.weight")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "00000000-0000-4000-8000-000000000009"),
        ("org_id", "00000000-0000-4000-8000-000000000002"),
        ("version", 4),
    ],
)
async def test_a_focal_point_refuses_server_owned_fields(client, admin, create, sql, field, value):
    org = await create(en="Ministry of Education and Higher Education")
    url = f"/v1/organizations/{org['id']}/contacts"
    assert_refused(await client.post(url, json={**CONTACT, field: value}, headers=admin), field)
    assert await sql.fetchval("select count(*) from organization_contacts") == 0

    added = await client.post(url, json=CONTACT, headers=admin)
    assert added.status_code == 201, added.text
    contact_url = f"{url}/{added.json()['id']}"
    replaced = await client.put(
        contact_url, json={**CONTACT, field: value}, headers={**admin, "If-Match": '"1"'}
    )
    assert_refused(replaced, field)
    row = await sql.fetchrow("select id::text, org_id::text, version from organization_contacts")
    assert dict(row) == {"id": added.json()["id"], "org_id": org["id"], "version": 1}
