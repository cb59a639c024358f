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


STALE_DETAIL = "The record changed since you read it; read it again and reapply your change."


def assert_stale(response, current_version: int) -> None:
    """The whole 412 body: the problem type, and the ETag to read again."""
    assert response.status_code == 412, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) <= {
        "type",
        "title",
        "status",
        "detail",
        "current_etag",
        "instance",
        "request_id",
    }
    assert problem["type"] == "urn:tansiq:problem:stale-etag"
    assert problem["title"] == "Precondition failed"
    assert problem["status"] == 412
    assert problem["detail"] == STALE_DETAIL
    assert problem["current_etag"] == f'"{current_version}"'


async def counts(sql, org_id: str) -> tuple[int, int, int]:
    """(version, events in the outbox, audit rows) of an organization."""
    return (
        await sql.fetchval("select version from organizations where id = $1", org_id),
        await sql.fetchval("select count(*) from outbox where aggregateid = $1", org_id),
        await sql.fetchval("select count(*) from audit_log where entity_id = $1", org_id),
    )


@pytest.mark.parametrize("if_match", ['W/"1"', 'W/"1", W/"2"', '"2"', '"0"', "1"])
async def test_a_weak_or_stale_if_match_is_412_and_changes_nothing(
    client, admin, create, sql, if_match
):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"acronym": "MOI"},
        headers={**admin, "If-Match": if_match},
    )
    assert_stale(response, 1)
    assert await counts(sql, org["id"]) == (1, 1, 1)
    assert await sql.fetchval("select acronym from organizations where id = $1", org["id"]) is None


@pytest.mark.parametrize("if_match", ['"1"', '"7", "1"', "*"])
async def test_a_strong_if_match_naming_the_version_passes(client, admin, create, if_match):
    org = await create(en="Ministry of Interior")
    response = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"acronym": "MOI"},
        headers={**admin, "If-Match": if_match},
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"2"'


async def test_a_stale_if_match_on_archive_and_restore_is_412_and_changes_nothing(
    client, admin, create, sql
):
    org = await create(en="Ministry of Interior")
    url = f"/v1/organizations/{org['id']}/actions"
    for if_match in ('"2"', 'W/"1"'):
        assert_stale(
            await client.post(f"{url}/archive", headers={**admin, "If-Match": if_match}), 1
        )
    assert await counts(sql, org["id"]) == (1, 1, 1)
    archived = await client.post(f"{url}/archive", headers={**admin, "If-Match": '"1"'})
    assert archived.status_code == 200, archived.text
    assert archived.headers["ETag"] == '"2"'
    assert archived.json()["status"] == "archived"

    for if_match in ('"1"', 'W/"2"'):
        assert_stale(
            await client.post(f"{url}/restore", headers={**admin, "If-Match": if_match}), 2
        )
    assert await counts(sql, org["id"]) == (2, 2, 2)
    status = await sql.fetchval("select status from organizations where id = $1", org["id"])
    assert status == "archived"
    restored = await client.post(f"{url}/restore", headers={**admin, "If-Match": '"2"'})
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "active"
    assert await counts(sql, org["id"]) == (3, 3, 3)


async def test_a_weak_if_match_on_a_focal_point_is_412(client, admin, create, sql):
    org = await create(en="Ministry of Education and Higher Education")
    added = await client.post(
        f"/v1/organizations/{org['id']}/contacts", json=CONTACT, headers=admin
    )
    response = await client.put(
        f"/v1/organizations/{org['id']}/contacts/{added.json()['id']}",
        json={**CONTACT, "title": "Director"},
        headers={**admin, "If-Match": 'W/"1"'},
    )
    assert_stale(response, 1)
    title = await sql.fetchval("select title from organization_contacts")
    assert title == CONTACT["title"]


@pytest.mark.parametrize(
    "patch",
    [
        {},
        {"acronym": "MOI"},
        {"acronym": " MOI "},  # trimmed to what is stored
        {"names": {"en": "Ministry of Interior"}},
        {"country": "qa"},  # upper-cased to what is stored
        {"kind": "ministry", "designations": [], "reporting_lines": []},
        {"iati_org_type": None},  # derived again: the same 10
    ],
)
async def test_a_patch_that_changes_nothing_bumps_no_version_and_records_nothing(
    client, admin, create, sql, patch
):
    org = await create(en="Ministry of Interior", acronym="MOI")
    before = await counts(sql, org["id"])
    assert before == (1, 1, 1)
    response = await client.patch(
        f"/v1/organizations/{org['id']}", json=patch, headers={**admin, "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == '"1"'
    assert response.json() == org
    assert await counts(sql, org["id"]) == before
    # Still checked: a stale ETag on a patch that would change nothing is refused all the same.
    assert_stale(
        await client.patch(
            f"/v1/organizations/{org['id']}", json=patch, headers={**admin, "If-Match": '"0"'}
        ),
        1,
    )
