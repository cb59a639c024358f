"""Updates state what they send (merge patch media types) and what they read (If-Match)."""

from __future__ import annotations

import json

import pytest

CONTACT = {
    "name": "Fatima Al-Kuwari",
    "title": "Head of section",
    "email": "f.kuwari@example.qa",
    "phone": "+974 4000 0000",
}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
async def test_patch_with_a_non_json_body_is_415_and_changes_nothing(
    client, admin, create, sql, content_type
):
    org = await create(en="Ministry of Interior")
    url = f"/v1/organizations/{org['id']}"
    response = await client.patch(
        url,
        content=json.dumps({"acronym": "MOI"}),
        headers={**admin, "If-Match": '"1"', "Content-Type": content_type},
    )
    assert response.status_code == 415
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 415
    assert problem["type"].endswith("unsupported-media-type")
    assert "application/merge-patch+json" in response.headers["Accept-Patch"]
    assert await sql.fetchval("select version from organizations where id = $1", org["id"]) == 1
    assert await sql.fetchval("select acronym from organizations where id = $1", org["id"]) is None


async def test_patch_without_a_content_type_is_415(client, admin, create):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}",
        content=b'{"acronym": "MOI"}',
        headers={**admin, "If-Match": '"1"'},
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "content_type",
    ["application/merge-patch+json", "application/json", "application/json; charset=utf-8"],
)
async def test_patch_accepts_merge_patch_and_plain_json(client, admin, create, content_type):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}",
        content=json.dumps({"acronym": "MOI"}),
        headers={**admin, "If-Match": '"1"', "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.json()["acronym"] == "MOI"
    assert response.headers["ETag"] == '"2"'


async def test_anonymous_patch_hears_401_before_415(client, create):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}", content=b"acronym=MOI", headers={"If-Match": '"1"'}
    )
    assert response.status_code == 401


async def test_contact_responses_carry_etag_and_location(client, admin, auth_headers, create):
    org = await create(en="Ministry of Education and Higher Education")
    added = await client.post(
        f"/v1/organizations/{org['id']}/contacts", json=CONTACT, headers=admin
    )
    assert added.status_code == 201, added.text
    contact = added.json()
    assert added.headers["ETag"] == f'"{contact["version"]}"'
    assert added.headers["Location"] == f"/v1/organizations/{org['id']}/contacts/{contact['id']}"
    staff = auth_headers(org["id"], ["viewer"])  # personal data: staff of a national body
    read = await client.get(added.headers["Location"], headers=staff)
    assert read.status_code == 200
    assert read.json() == contact
    assert read.headers["ETag"] == added.headers["ETag"]


async def test_contact_update_needs_if_match(client, admin, create, sql):
    org = await create(en="Ministry of Education and Higher Education")
    added = await client.post(
        f"/v1/organizations/{org['id']}/contacts", json=CONTACT, headers=admin
    )
    url = f"/v1/organizations/{org['id']}/contacts/{added.json()['id']}"
    changed = {**CONTACT, "title": "Director"}

    missing = await client.put(url, json=changed, headers=admin)
    assert missing.status_code == 428
    assert missing.headers["content-type"].startswith("application/problem+json")

    ok = await client.put(url, json=changed, headers={**admin, "If-Match": added.headers["ETag"]})
    assert ok.status_code == 200, ok.text
    assert ok.json()["title"] == "Director"
    assert ok.json()["version"] == 2
    assert ok.headers["ETag"] == '"2"'

    # A second writer still holding the first ETag is refused and told the current one.
    stale = await client.put(
        url, json={**CONTACT, "title": "Advisor"}, headers={**admin, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == '"2"'
    row = await sql.fetchrow(
        "select title, version from organization_contacts where id = $1", added.json()["id"]
    )
    assert (row["title"], row["version"]) == ("Director", 2)
    updates = await sql.fetchval(
        "select count(*) from audit_log where action = 'organization_contact.updated'"
    )
    assert updates == 1


async def test_contact_update_of_an_unknown_contact_is_404(client, admin, create):
    org = await create(en="Ministry of Education and Higher Education")
    response = await client.put(
        f"/v1/organizations/{org['id']}/contacts/00000000-0000-4000-8000-000000000000",
        json=CONTACT,
        headers={**admin, "If-Match": '"1"'},
    )
    assert response.status_code == 404
